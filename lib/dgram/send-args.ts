/**
 * send()'s many shapes, sorted out and checked as Node's dgram does, in the same order (so that
 * the same bad call meets the same error first):
 *
 *   not connected: send(msg, offset, length, port, address?, cb?) · send(msg, port, address?, cb?)
 *   connected:     send(msg, offset, length, cb?)                 · send(msg, cb?)
 *
 * `msg` is a Buffer, TypedArray, DataView or string, or a list of them sent as one datagram.
 */
import * as errors from './errors';
import type { SendCallback } from './batch';

export interface SendArgs {
  /** The bytes: one view, or several that make one datagram. */
  list: Uint8Array | Uint8Array[];
  port: number;
  /** As given (undefined, null or '' mean the default host). */
  address: string | undefined | null;
  callback: SendCallback | undefined;
}

const BUFFER_TYPES = ['Buffer', 'TypedArray', 'DataView', 'string'];

/** A view's bytes as a Uint8Array over the same memory (a Buffer or Uint8Array is kept as is). */
function bytesOf(v: ArrayBufferView): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Uint8Array {
  let view: ArrayBufferView;
  if (typeof buffer === 'string') view = Buffer.from(buffer);
  else if (ArrayBuffer.isView(buffer)) view = buffer;
  else throw errors.invalidArgType('buffer', BUFFER_TYPES, buffer);
  // Node coerces with `>>> 0`, which throws a bare TypeError for a BigInt or a Symbol: name them.
  for (const [name, v] of [
    ['offset', offset],
    ['length', length],
  ] as const) {
    if (typeof v === 'bigint' || typeof v === 'symbol') throw errors.invalidArgType(name, 'number', v);
  }
  const off = (offset as number) >>> 0;
  const len = (length as number) >>> 0;
  if (off > view.byteLength) throw errors.outOfBounds('offset');
  if (off + len > view.byteLength) throw errors.outOfBounds('length');
  return new Uint8Array(view.buffer, view.byteOffset + off, len);
}

function bufferList(list: unknown[]): Uint8Array[] | null {
  const out = new Array<Uint8Array>(list.length);
  for (let i = 0; i < list.length; i++) {
    const b = list[i];
    if (typeof b === 'string') out[i] = Buffer.from(b);
    else if (ArrayBuffer.isView(b)) out[i] = bytesOf(b);
    else return null;
  }
  return out;
}

export function sendArgs(msg: unknown, rest: unknown[], connected: boolean): SendArgs {
  let buffer: unknown = msg;
  let [offset, length, port, address, callback] = rest;
  if (!connected) {
    if (address || (port && typeof port !== 'function')) buffer = sliceBuffer(buffer, offset, length);
    else {
      callback = port;
      port = offset;
      address = length;
    }
  } else {
    if (typeof length === 'number') {
      buffer = sliceBuffer(buffer, offset, length);
      if (typeof port === 'function') {
        callback = port;
        port = null;
      }
    } else callback = offset;
    if (port || address) throw errors.isConnected();
  }
  let list: Uint8Array | Uint8Array[];
  if (!Array.isArray(buffer)) {
    if (typeof buffer === 'string') list = Buffer.from(buffer);
    else if (ArrayBuffer.isView(buffer)) list = bytesOf(buffer);
    else throw errors.invalidArgType('buffer', BUFFER_TYPES, buffer);
  } else {
    const l = bufferList(buffer);
    if (l === null) throw errors.invalidArgType('buffer list arguments', BUFFER_TYPES, buffer);
    list = l.length === 1 ? l[0]! : l;
  }
  let p = 0;
  if (!connected) p = validatePort(port, 'Port', false);
  if (typeof callback !== 'function') callback = undefined;
  if (typeof address === 'function') {
    callback = address;
    address = undefined;
  } else if (address !== null && address !== undefined && typeof address !== 'string') {
    throw errors.invalidArgType('address', 'string', address);
  }
  return { list, port: p, address: address as string | undefined | null, callback: callback as SendCallback | undefined };
}

/** Node's validatePort: a number or numeric string, an integer in [0 (or 1), 65535]. */
export function validatePort(port: unknown, name: string, allowZero: boolean): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff ||
    (port === 0 && !allowZero)
  ) {
    throw errors.badPort(name, port, allowZero);
  }
  return +port | 0;
}
