// EncodeFarm's NVML telemetry addon (Node-API, so one build loads in Node and in Electron).
//
// It never links NVML: `load()` opens libnvidia-ml.so.1 (nvml.dll on Windows) at run time and
// looks up each function by name, so the addon builds and loads on machines without CUDA or an
// NVIDIA driver, and a driver too old for one query still answers the others. A missing optional
// function or an error return makes that one figure null (with the reason in `errors`), never the
// whole poll. The TypeScript side is native/index.ts; nothing else calls these functions.
#include <napi.h>

#include <string>

#include "nvml-types.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace {

#ifdef _WIN32
const char* const kDefaultLibrary = "nvml.dll";
// Drivers before R450 install nvml.dll here rather than in System32.
const char* const kLegacyWindowsLibrary = "C:\\Program Files\\NVIDIA Corporation\\NVSMI\\nvml.dll";
#else
const char* const kDefaultLibrary = "libnvidia-ml.so.1";
#endif

// The library stays loaded for the life of the process once found: NVML counts init/shutdown
// itself, and unloading it under a poll in progress would be a crash, not a saving.
struct NvmlLibrary {
  void* handle = nullptr;
  std::string path;
  nvmlInit_v2_fn init = nullptr;
  nvmlShutdown_fn shutdown = nullptr;
  nvmlErrorString_fn errorString = nullptr;
  nvmlSystemGetDriverVersion_fn driverVersion = nullptr;
  nvmlDeviceGetCount_v2_fn deviceCount = nullptr;
  nvmlDeviceGetHandleByIndex_v2_fn handleByIndex = nullptr;
  nvmlDeviceGetString_fn uuid = nullptr;
  nvmlDeviceGetString_fn name = nullptr;
  nvmlDeviceGetPciInfo_fn pciInfo = nullptr;
  bool pciInfoIsV3 = false;
  nvmlDeviceGetMemoryInfo_fn memoryInfo = nullptr;
  nvmlDeviceGetTemperature_fn temperature = nullptr;
  nvmlDeviceGetUtilizationRates_fn utilization = nullptr;
  nvmlDeviceGetCodecUtilization_fn encoderUtilization = nullptr;
  nvmlDeviceGetCodecUtilization_fn decoderUtilization = nullptr;
  nvmlDeviceGetEncoderStats_fn encoderStats = nullptr;
  nvmlDeviceGetEncoderCapacity_fn encoderCapacity = nullptr;
};

NvmlLibrary nvml;

#ifdef _WIN32
std::string LastSystemError() {
  DWORD code = GetLastError();
  char* text = nullptr;
  FormatMessageA(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0,
                 reinterpret_cast<LPSTR>(&text), 0, nullptr);
  std::string message = text ? text : ("error " + std::to_string(code));
  if (text) LocalFree(text);
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == ' ')) message.pop_back();
  return message;
}

void* OpenLibrary(const std::string& name, std::string* error) {
  HMODULE lib = LoadLibraryA(name.c_str());
  if (!lib && name == kDefaultLibrary) lib = LoadLibraryA(kLegacyWindowsLibrary);
  if (!lib) *error = name + ": " + LastSystemError();
  return reinterpret_cast<void*>(lib);
}

void* Symbol(void* lib, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(reinterpret_cast<HMODULE>(lib), name));
}

void CloseLibrary(void* lib) { FreeLibrary(reinterpret_cast<HMODULE>(lib)); }
#else
void* OpenLibrary(const std::string& name, std::string* error) {
  dlerror();
  void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    // dlerror() already names the file ("libnvidia-ml.so.1: cannot open shared object file: ...").
    *error = why ? why : name + ": cannot be opened";
  }
  return lib;
}

void* Symbol(void* lib, const char* name) { return dlsym(lib, name); }

void CloseLibrary(void* lib) { dlclose(lib); }
#endif

template <typename Fn>
void Resolve(Fn* slot, const char* name) {
  *slot = reinterpret_cast<Fn>(Symbol(nvml.handle, name));
}

std::string ErrorText(nvmlReturn_t code) {
  if (nvml.errorString) {
    const char* text = nvml.errorString(code);
    if (text && *text) return text;
  }
  return "NVML error " + std::to_string(code);
}

Napi::Value ThrowNvml(Napi::Env env, const std::string& what, nvmlReturn_t code) {
  Napi::Error error = Napi::Error::New(env, what + ": " + ErrorText(code));
  error.Value().Set("nvmlCode", Napi::Number::New(env, code));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value Throw(Napi::Env env, const std::string& message) {
  Napi::Error::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// load(library?: string): null when NVML is loaded, else why not (the loader's own words).
Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (nvml.handle) return env.Null();
  std::string name = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : kDefaultLibrary;
  std::string error;
  void* lib = OpenLibrary(name, &error);
  if (!lib) return Napi::String::New(env, error);
  nvml.handle = lib;
  nvml.path = name;
  Resolve(&nvml.init, "nvmlInit_v2");
  Resolve(&nvml.shutdown, "nvmlShutdown");
  Resolve(&nvml.deviceCount, "nvmlDeviceGetCount_v2");
  Resolve(&nvml.handleByIndex, "nvmlDeviceGetHandleByIndex_v2");
  const char* missing = !nvml.init            ? "nvmlInit_v2"
                        : !nvml.shutdown      ? "nvmlShutdown"
                        : !nvml.deviceCount   ? "nvmlDeviceGetCount_v2"
                        : !nvml.handleByIndex ? "nvmlDeviceGetHandleByIndex_v2"
                                              : nullptr;
  if (missing) {
    CloseLibrary(lib);
    nvml = NvmlLibrary();
    return Napi::String::New(env, name + ": no " + missing + " (an NVML older than driver R319?)");
  }
  // Optional: each one missing only blanks its own figures.
  Resolve(&nvml.errorString, "nvmlErrorString");
  Resolve(&nvml.driverVersion, "nvmlSystemGetDriverVersion");
  Resolve(&nvml.uuid, "nvmlDeviceGetUUID");
  Resolve(&nvml.name, "nvmlDeviceGetName");
  Resolve(&nvml.pciInfo, "nvmlDeviceGetPciInfo_v3");
  nvml.pciInfoIsV3 = nvml.pciInfo != nullptr;
  if (!nvml.pciInfo) Resolve(&nvml.pciInfo, "nvmlDeviceGetPciInfo_v2");
  Resolve(&nvml.memoryInfo, "nvmlDeviceGetMemoryInfo");
  Resolve(&nvml.temperature, "nvmlDeviceGetTemperature");
  Resolve(&nvml.utilization, "nvmlDeviceGetUtilizationRates");
  Resolve(&nvml.encoderUtilization, "nvmlDeviceGetEncoderUtilization");
  Resolve(&nvml.decoderUtilization, "nvmlDeviceGetDecoderUtilization");
  Resolve(&nvml.encoderStats, "nvmlDeviceGetEncoderStats");
  Resolve(&nvml.encoderCapacity, "nvmlDeviceGetEncoderCapacity");
  return env.Null();
}

Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!nvml.handle) return Throw(env, "NVML is not loaded");
  nvmlReturn_t r = nvml.init();
  if (r != NVML_SUCCESS) return ThrowNvml(env, "nvmlInit", r);
  return env.Undefined();
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  if (nvml.handle) nvml.shutdown();
  return info.Env().Undefined();
}

Napi::Value DeviceCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!nvml.handle) return Throw(env, "NVML is not loaded");
  unsigned int count = 0;
  nvmlReturn_t r = nvml.deviceCount(&count);
  if (r != NVML_SUCCESS) return ThrowNvml(env, "nvmlDeviceGetCount", r);
  return Napi::Number::New(env, count);
}

Napi::Value DriverVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!nvml.handle || !nvml.driverVersion) return env.Null();
  char buffer[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = {0};
  if (nvml.driverVersion(buffer, sizeof buffer) != NVML_SUCCESS) return env.Null();
  buffer[sizeof buffer - 1] = '\0';
  return Napi::String::New(env, buffer);
}

// Collects one device's figures; each query is independent of the others.
class DeviceReader {
 public:
  DeviceReader(Napi::Env env, nvmlDevice_t device)
      : env_(env), device_(device), out_(Napi::Object::New(env)), errors_(Napi::Object::New(env)) {}

  Napi::Object Read(unsigned int index) {
    out_.Set("index", Napi::Number::New(env_, index));
    ReadString("uuid", "nvmlDeviceGetUUID", nvml.uuid, NVML_DEVICE_UUID_V2_BUFFER_SIZE);
    ReadString("name", "nvmlDeviceGetName", nvml.name, NVML_DEVICE_NAME_V2_BUFFER_SIZE);
    ReadPci();
    ReadMemory();
    ReadTemperature();
    ReadUtilization();
    ReadCodec("encoderUtil", "nvmlDeviceGetEncoderUtilization", nvml.encoderUtilization);
    ReadCodec("decoderUtil", "nvmlDeviceGetDecoderUtilization", nvml.decoderUtilization);
    ReadEncoderStats();
    ReadEncoderCapacity();
    out_.Set("errors", errors_);
    return out_;
  }

  // A device whose handle NVML refuses: every figure null, one reason.
  static Napi::Object Unreadable(Napi::Env env, unsigned int index, nvmlReturn_t r) {
    DeviceReader reader(env, nullptr);
    reader.out_.Set("index", Napi::Number::New(env, index));
    for (const char* key : {"uuid", "name", "pciBusId", "memoryUsedBytes", "memoryTotalBytes", "temperatureC", "gpuUtil", "encoderUtil",
                            "decoderUtil", "encoderSessions", "encoderFps", "encoderLatencyUs"}) {
      reader.out_.Set(key, env.Null());
    }
    Napi::Object capacity = Napi::Object::New(env);
    for (const char* codec : {"h264", "hevc", "av1"}) capacity.Set(codec, env.Null());
    reader.out_.Set("encoderCapacity", capacity);
    reader.errors_.Set("handle", ErrorText(r));
    reader.out_.Set("errors", reader.errors_);
    return reader.out_;
  }

 private:
  // Records why `keys` are null; false when the caller should not set them.
  bool Ok(std::initializer_list<const char*> keys, const char* figure, const char* symbol, const void* fn, nvmlReturn_t r) {
    if (fn && r == NVML_SUCCESS) return true;
    for (const char* key : keys) out_.Set(key, env_.Null());
    errors_.Set(figure, fn ? ErrorText(r) : std::string("no ") + symbol + " in this NVML");
    return false;
  }

  void ReadString(const char* key, const char* symbol, nvmlDeviceGetString_fn fn, unsigned int size) {
    char buffer[128] = {0};
    nvmlReturn_t r = fn ? fn(device_, buffer, size) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!Ok({key}, key, symbol, reinterpret_cast<const void*>(fn), r)) return;
    buffer[sizeof buffer - 1] = '\0';
    out_.Set(key, Napi::String::New(env_, buffer));
  }

  void ReadPci() {
    nvmlPciInfo_t pci = {};
    nvmlReturn_t r = nvml.pciInfo ? nvml.pciInfo(device_, &pci) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!Ok({"pciBusId"}, "pciBusId", "nvmlDeviceGetPciInfo_v3", reinterpret_cast<const void*>(nvml.pciInfo), r)) return;
    pci.busId[sizeof pci.busId - 1] = '\0';
    pci.busIdLegacy[sizeof pci.busIdLegacy - 1] = '\0';
    const char* busId = nvml.pciInfoIsV3 && pci.busId[0] ? pci.busId : pci.busIdLegacy;
    out_.Set("pciBusId", Napi::String::New(env_, busId));
  }

  void ReadMemory() {
    nvmlMemory_t memory = {};
    nvmlReturn_t r = nvml.memoryInfo ? nvml.memoryInfo(device_, &memory) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!Ok({"memoryUsedBytes", "memoryTotalBytes"}, "memory", "nvmlDeviceGetMemoryInfo", reinterpret_cast<const void*>(nvml.memoryInfo), r)) {
      return;
    }
    // Doubles hold whole bytes exactly up to 8 PiB.
    out_.Set("memoryUsedBytes", Napi::Number::New(env_, static_cast<double>(memory.used)));
    out_.Set("memoryTotalBytes", Napi::Number::New(env_, static_cast<double>(memory.total)));
  }

  void ReadTemperature() {
    unsigned int celsius = 0;
    nvmlReturn_t r = nvml.temperature ? nvml.temperature(device_, NVML_TEMPERATURE_GPU, &celsius) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!Ok({"temperatureC"}, "temperatureC", "nvmlDeviceGetTemperature", reinterpret_cast<const void*>(nvml.temperature), r)) return;
    out_.Set("temperatureC", Napi::Number::New(env_, celsius));
  }

  void ReadUtilization() {
    nvmlUtilization_t rates = {};
    nvmlReturn_t r = nvml.utilization ? nvml.utilization(device_, &rates) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!Ok({"gpuUtil"}, "gpuUtil", "nvmlDeviceGetUtilizationRates", reinterpret_cast<const void*>(nvml.utilization), r)) return;
    out_.Set("gpuUtil", Napi::Number::New(env_, rates.gpu));
  }

  void ReadCodec(const char* key, const char* symbol, nvmlDeviceGetCodecUtilization_fn fn) {
    unsigned int percent = 0;
    unsigned int periodUs = 0;
    nvmlReturn_t r = fn ? fn(device_, &percent, &periodUs) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!Ok({key}, key, symbol, reinterpret_cast<const void*>(fn), r)) return;
    out_.Set(key, Napi::Number::New(env_, percent));
  }

  void ReadEncoderStats() {
    unsigned int sessions = 0;
    unsigned int fps = 0;
    unsigned int latencyUs = 0;
    nvmlReturn_t r = nvml.encoderStats ? nvml.encoderStats(device_, &sessions, &fps, &latencyUs) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (!Ok({"encoderSessions", "encoderFps", "encoderLatencyUs"}, "encoderStats", "nvmlDeviceGetEncoderStats",
            reinterpret_cast<const void*>(nvml.encoderStats), r)) {
      return;
    }
    out_.Set("encoderSessions", Napi::Number::New(env_, sessions));
    out_.Set("encoderFps", Napi::Number::New(env_, fps));
    out_.Set("encoderLatencyUs", Napi::Number::New(env_, latencyUs));
  }

  void ReadEncoderCapacity() {
    Napi::Object capacity = Napi::Object::New(env_);
    const struct {
      const char* key;
      unsigned int type;
    } codecs[] = {{"h264", NVML_ENCODER_QUERY_H264}, {"hevc", NVML_ENCODER_QUERY_HEVC}, {"av1", NVML_ENCODER_QUERY_AV1}};
    for (const auto& codec : codecs) {
      unsigned int percent = 0;
      nvmlReturn_t r = nvml.encoderCapacity ? nvml.encoderCapacity(device_, codec.type, &percent) : NVML_ERROR_FUNCTION_NOT_FOUND;
      if (nvml.encoderCapacity && r == NVML_SUCCESS) {
        capacity.Set(codec.key, Napi::Number::New(env_, percent));
      } else {
        capacity.Set(codec.key, env_.Null());
        std::string figure = std::string("encoderCapacity.") + codec.key;
        errors_.Set(figure, nvml.encoderCapacity ? ErrorText(r) : std::string("no nvmlDeviceGetEncoderCapacity in this NVML"));
      }
    }
    out_.Set("encoderCapacity", capacity);
  }

  Napi::Env env_;
  nvmlDevice_t device_;
  Napi::Object out_;
  Napi::Object errors_;
};

Napi::Value Device(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!nvml.handle) return Throw(env, "NVML is not loaded");
  if (info.Length() < 1 || !info[0].IsNumber()) return Throw(env, "device(index): index must be a number");
  double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 0 && requested < 4096) || requested != static_cast<unsigned int>(requested)) {
    return Throw(env, "device(index): index must be a whole number from 0");
  }
  unsigned int index = static_cast<unsigned int>(requested);
  nvmlDevice_t device = nullptr;
  nvmlReturn_t r = nvml.handleByIndex(index, &device);
  if (r != NVML_SUCCESS) return DeviceReader::Unreadable(env, index, r);
  return DeviceReader(env, device).Read(index);
}

Napi::Value Library(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return nvml.handle ? Napi::Value(Napi::String::New(env, nvml.path)) : env.Null();
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("load", Napi::Function::New(env, Load, "load"));
  exports.Set("library", Napi::Function::New(env, Library, "library"));
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("deviceCount", Napi::Function::New(env, DeviceCount, "deviceCount"));
  exports.Set("driverVersion", Napi::Function::New(env, DriverVersion, "driverVersion"));
  exports.Set("device", Napi::Function::New(env, Device, "device"));
  return exports;
}

}  // namespace

NODE_API_MODULE(encodefarm_nvml, InitModule)
