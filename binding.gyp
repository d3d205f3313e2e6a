{
  "targets": [
    {
      "target_name": "epoll_reactor",
      "sources": [
        "native/addon.cc",
        "native/common.cc",
        "native/constants.cc",
        "native/epoll.cc",
        "native/fd.cc",
        "native/time.cc",
        "native/socket.cc",
        "native/attach.cc",
        "native/batch.cc",
        "native/udp.cc",
        "native/signals.cc",
        "native/inotify.cc",
        "native/process.cc",
        "native/inet.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
