/** The fixed HTTP response every server in the comparison sends (bench/c/http-server.c's bytes). */
export const RESPONSE_TEXT =
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, World!';
export const RESPONSE: Buffer = Buffer.from(RESPONSE_TEXT, 'latin1');
