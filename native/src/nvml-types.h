// The few NVML types, constants and function signatures this addon uses, declared here so that it
// builds without CUDA or a driver installed (no nvml.h). Layouts follow NVIDIA's nvml.h; they are
// part of NVML's stable ABI, which is why each versioned entry point (`_v2`, `_v3`) is named.
#pragma once

#include <cstdint>

extern "C" {

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st* nvmlDevice_t;

enum : int {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_FUNCTION_NOT_FOUND = 13,
};

enum : unsigned int { NVML_TEMPERATURE_GPU = 0 };
enum : unsigned int { NVML_ENCODER_QUERY_H264 = 0, NVML_ENCODER_QUERY_HEVC = 1, NVML_ENCODER_QUERY_AV1 = 2 };

const unsigned int NVML_DEVICE_UUID_V2_BUFFER_SIZE = 96;
const unsigned int NVML_DEVICE_NAME_V2_BUFFER_SIZE = 96;
const unsigned int NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE = 80;
const unsigned int NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE = 32;
const unsigned int NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE = 16;

// nvmlPciInfo_t as filled by nvmlDeviceGetPciInfo_v3 (and _v2, which leaves busId empty and
// writes busIdLegacy only on old drivers).
typedef struct {
  char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

typedef struct {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_t;

typedef struct {
  unsigned int gpu;
  unsigned int memory;
} nvmlUtilization_t;

typedef nvmlReturn_t (*nvmlInit_v2_fn)(void);
typedef nvmlReturn_t (*nvmlShutdown_fn)(void);
typedef const char* (*nvmlErrorString_fn)(nvmlReturn_t);
typedef nvmlReturn_t (*nvmlSystemGetDriverVersion_fn)(char*, unsigned int);
typedef nvmlReturn_t (*nvmlDeviceGetCount_v2_fn)(unsigned int*);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByIndex_v2_fn)(unsigned int, nvmlDevice_t*);
typedef nvmlReturn_t (*nvmlDeviceGetString_fn)(nvmlDevice_t, char*, unsigned int);
typedef nvmlReturn_t (*nvmlDeviceGetPciInfo_fn)(nvmlDevice_t, nvmlPciInfo_t*);
typedef nvmlReturn_t (*nvmlDeviceGetMemoryInfo_fn)(nvmlDevice_t, nvmlMemory_t*);
typedef nvmlReturn_t (*nvmlDeviceGetTemperature_fn)(nvmlDevice_t, unsigned int, unsigned int*);
typedef nvmlReturn_t (*nvmlDeviceGetUtilizationRates_fn)(nvmlDevice_t, nvmlUtilization_t*);
typedef nvmlReturn_t (*nvmlDeviceGetCodecUtilization_fn)(nvmlDevice_t, unsigned int*, unsigned int*);
typedef nvmlReturn_t (*nvmlDeviceGetEncoderStats_fn)(nvmlDevice_t, unsigned int*, unsigned int*, unsigned int*);
typedef nvmlReturn_t (*nvmlDeviceGetEncoderCapacity_fn)(nvmlDevice_t, unsigned int, unsigned int*);

}  // extern "C"
