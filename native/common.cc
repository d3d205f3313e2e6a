#include "common.h"

#include <uv.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits.h>

namespace er {

AddonData* Data(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

int64_t MonotonicNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Napi::Error MakeErrno(Napi::Env env, int err, const char* syscall) {
  // libuv's names and messages (uv errors are -errno on Linux) so ours read exactly like Node's.
  char name[64];
  char text[256];
  uv_err_name_r(-err, name, sizeof name);
  uv_strerror_r(-err, text, sizeof text);
  std::string message = std::string(name) + ": " + text + ", " + syscall;
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("code", Napi::String::New(env, name));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall) { throw MakeErrno(env, err, syscall); }

// makeSystemError(errno, syscall): the same error, for errors that arrive as numbers (SO_ERROR).
static Napi::Value MakeSystemError(const Napi::CallbackInfo& info) {
  int err = static_cast<int>(ArgInt(info, 0, "errno", 1, 4095));
  std::string syscall = ArgString(info, 1, "syscall");
  return MakeErrno(info.Env(), err, syscall.c_str()).Value();
}

void InitErrors(Napi::Env /*env*/, Napi::Object exports) {
  exports.Set("makeSystemError", Napi::Function::New(exports.Env(), MakeSystemError, "makeSystemError"));
}

static std::string Describe(Napi::Value v) {
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return std::string("type boolean (") + (v.As<Napi::Boolean>().Value() ? "true" : "false") + ")";
    case napi_number: {
      char buf[64];
      snprintf(buf, sizeof buf, "%.17g", v.As<Napi::Number>().DoubleValue());
      return buf;
    }
    case napi_string: {
      std::string s = v.As<Napi::String>().Utf8Value();
      if (s.size() > 28) s = s.substr(0, 25) + "...";
      return "type string ('" + s + "')";
    }
    case napi_bigint: return "type bigint";
    case napi_symbol: return "type symbol";
    case napi_function: return "function";
    case napi_object: return v.IsArray() ? "an instance of Array" : v.IsTypedArray() ? "a TypedArray" : "an object";
    default: return "a value";
  }
}

void ThrowArgType(Napi::Env env, const char* name, const char* expected, Napi::Value got) {
  std::string message = std::string("The \"") + name + "\" argument must be " + expected + ". Received " + Describe(got);
  Napi::Error e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw e;
}

void ThrowArgRange(Napi::Env env, const char* name, const std::string& expected, Napi::Value got) {
  std::string message =
      std::string("The value of \"") + name + "\" is out of range. It must be " + expected + ". Received " + Describe(got);
  Napi::Error e = Napi::RangeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  throw e;
}

static int64_t CheckedInt(Napi::Env env, Napi::Value v, const char* name, int64_t min, int64_t max) {
  // One Node-API call on the hot path: it fails with napi_number_expected for a non-number.
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) ThrowArgType(env, name, "of type number", v);
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || std::trunc(d) != d) {
    ThrowArgRange(env, name, "an integer >= " + std::to_string(min) + " and <= " + std::to_string(max), v);
  }
  return static_cast<int64_t>(d);
}

int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return static_cast<int>(CheckedInt(info.Env(), info[i], name, 0, INT_MAX));
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max) {
  return CheckedInt(info.Env(), info[i], name, min, max);
}

int64_t ArgIntOr(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max,
                 int64_t dflt) {
  if (i >= info.Length() || info[i].IsUndefined()) return dflt;
  return CheckedInt(info.Env(), info[i], name, min, max);
}

int64_t ArgNs(Napi::Env env, Napi::Value v, const char* name, int64_t min) {
  const std::string range = "an integer >= " + std::to_string(min) + " and < 2^63";
  if (v.IsBigInt()) {
    bool lossless = false;
    int64_t ns = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless || ns < min) ThrowArgRange(env, name, range, v);
    return ns;
  }
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) ThrowArgType(env, name, "of type number or bigint", v);
  // 2^63 itself is the first double past INT64_MAX: the bound is exclusive.
  if (!(d >= static_cast<double>(min) && d < 9223372036854775808.0) || std::trunc(d) != d) ThrowArgRange(env, name, range, v);
  return static_cast<int64_t>(d);
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) ThrowArgType(info.Env(), name, "of type string", info[i]);
  return info[i].As<Napi::String>().Utf8Value();
}

Bytes BytesOf(Napi::Env env, napi_value v, const char* name) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  // An ArrayBuffer first: the loop passes its buffers' ArrayBuffers because this lookup is ~4 ns,
  // where napi_get_typedarray_info walks the element types and fetches the view's buffer (~20).
  // It fails (napi_invalid_arg) for anything else, a SharedArrayBuffer included.
  if (napi_get_arraybuffer_info(env, v, &data, &length) == napi_ok) {
    return Bytes{static_cast<uint8_t*>(data), data ? length : 0};  // detached: empty
  }
  // Then a TypedArray: it fails (napi_invalid_arg) when v is not one.
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) == napi_ok) {
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    // A detached buffer reports length 0 (and possibly a null pointer): an empty view, never a
    // dangling one.
    return Bytes{static_cast<uint8_t*>(data), data ? length * elem : 0};
  }
  bool is_dv = false;
  napi_is_dataview(env, v, &is_dv);
  if (is_dv) {
    napi_get_dataview_info(env, v, &length, &data, nullptr, nullptr);
    return Bytes{static_cast<uint8_t*>(data), data ? length : 0};
  }
  ThrowArgType(env, name, "an instance of Buffer, TypedArray, DataView, or ArrayBuffer", Napi::Value(env, v));
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return BytesOf(info.Env(), info[i], name);
}

Bytes ArgByteRange(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Bytes b = ArgBytes(info, i, name);
  int64_t size = static_cast<int64_t>(b.len);
  int64_t offset = ArgIntOr(info, i + 1, "offset", 0, size, 0);
  int64_t length = ArgIntOr(info, i + 2, "length", 0, size - offset, size - offset);
  return Bytes{b.data ? b.data + offset : b.data, static_cast<size_t>(length)};
}

U32s ArgTypedU32(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type want,
                 const char* type_name) {
  Napi::Env env = info.Env();
  napi_value v = info[i];
  {
    // A whole ArrayBuffer, read as 32-bit words (see BytesOf: the cheap lookup). Its data is
    // aligned (V8 allocates backing stores at least 8-byte aligned); a tail of 1–3 bytes is
    // not an element.
    void* data = nullptr;
    size_t bytes = 0;
    if (napi_get_arraybuffer_info(env, v, &data, &bytes) == napi_ok) {
      return U32s{static_cast<uint32_t*>(data), data ? bytes / 4 : 0};
    }
  }
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (is_ta) napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr);
  if (!is_ta || type != want) ThrowArgType(env, name, type_name, info[i]);
  return U32s{static_cast<uint32_t*>(data), data ? length : 0};
}

// Result of a hot-path I/O call: bytes, or -EAGAIN; anything else throws.
Napi::Value IoResult(Napi::Env env, ssize_t n, const char* syscall) {
  if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -EAGAIN);
  ThrowErrno(env, errno, syscall);
}

// Fills the per-instance iovec scratch from an array of ArrayBufferViews. More than IOV_MAX
// buffers are cut to IOV_MAX: the call then transfers less, which callers handle anyway.
int ArgIov(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) ThrowArgType(env, "buffers", "an Array of ArrayBufferView", info[i]);
  Napi::Array arr = info[i].As<Napi::Array>();
  uint32_t count = arr.Length();
  if (count > IOV_MAX) count = IOV_MAX;
  AddonData* d = Data(env);
  // d->values is used as a stack: a getter run by arr.Get may call readv/writev/sendmsg again,
  // and that nested call must take the slots above ours, not overwrite ours with values of its
  // own handle scope, dead once it returns. The vector only reallocates when it grows; we index it
  // afresh after every Get. The guard pops our slots on every way out, exceptions included.
  size_t base = d->values.size();
  struct Pop {
    std::vector<napi_value>& v;
    size_t n;
    ~Pop() { v.resize(n); }
  } pop{d->values, base};
  d->values.resize(base + count);
  // Two passes: reading an element may run a getter, and a getter may detach a buffer already
  // looked at. Only once every element is in hand are the pointers taken.
  for (uint32_t k = 0; k < count; k++) {
    napi_value v = arr.Get(k);
    d->values[base + k] = v;
  }
  // No JavaScript runs from here to the caller's syscall, so the iovec scratch needs no stack.
  if (d->iov.size() < count) d->iov.resize(count);
  for (uint32_t k = 0; k < count; k++) {
    Bytes b = BytesOf(env, d->values[base + k], "buffers[i]");
    d->iov[k].iov_base = b.data;
    d->iov[k].iov_len = b.len;
  }
  return static_cast<int>(count);
}

}  // namespace er
