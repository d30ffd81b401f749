/*
 * STUB libnvidia-ml.so.1 for tests and the telemetry bench. It is NOT NVIDIA's library and touches
 * no GPU: it implements the NVML functions EncodeFarm's addon looks up, for fake GPUs whose
 * figures come from a script, so the addon's dlopen/dlsym path and its binding code run for real.
 *
 * Build: cc -shared -fPIC -o <dir>/libnvidia-ml.so.1 nvml-stub.c
 *        (-DSTUB_WITHOUT_ENCODER_CAPACITY leaves nvmlDeviceGetEncoderCapacity out, to test a
 *        driver whose NVML lacks an optional function.)
 *
 * Script: the file named by env NVML_STUB_SCRIPT, read at nvmlInit_v2; `key=value` lines, `#`
 * comments. Without a script (or for a key it does not set) the defaults below apply: two GPUs,
 * GPU 1 answering NVML_ERROR_NOT_SUPPORTED (3) for encoder stats.
 *   init=N                  nvmlInit_v2 returns N (e.g. 9, "Driver Not Loaded")
 *   count=N                 number of GPUs (at most 8)
 *   driver=TEXT | err:N     nvmlSystemGetDriverVersion
 *   gpuI.uuid|name|pci=TEXT | err:N
 *   gpuI.handle=err:N       nvmlDeviceGetHandleByIndex_v2 fails for this GPU
 *   gpuI.FIGURE=V[,V...]    numbers; entry K is used on poll K (the last one repeats), where a
 *                           poll is one nvmlDeviceGetCount_v2 call; an entry `err:N` makes that
 *                           poll's call return N. FIGURE is one of mem_used, mem_total, temp,
 *                           util, enc_util, dec_util, enc_sessions, enc_fps, enc_latency,
 *                           enc_stats (err only: fails the whole call), cap_h264, cap_hevc,
 *                           cap_av1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STUB_EXPORT __attribute__((visibility("default")))

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st { unsigned int index; } *nvmlDevice_t;
typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;

enum { OK = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3, INSUFFICIENT_SIZE = 7 };
#define MAX_GPUS 8
#define MAX_ENTRIES 256

static struct { char key[64]; char value[512]; } entries[MAX_ENTRIES];
static int entryCount = 0;
static int initCount = 0;
static unsigned long poll = 0;
static struct nvmlDevice_st devices[MAX_GPUS];

static const char *defaults[][2] = {
    {"count", "2"},
    {"driver", "550.54.14-stub"},
    {"gpu0.uuid", "GPU-00000000-0000-4000-8000-57ab00000000"},
    {"gpu0.name", "NVIDIA GeForce RTX 4090 (stub)"},
    {"gpu0.pci", "00000000:01:00.0"},
    {"gpu0.mem_total", "25757220864"},
    {"gpu0.mem_used", "1073741824"},
    {"gpu0.temp", "40"},
    {"gpu0.util", "10"},
    {"gpu0.enc_util", "20"},
    {"gpu0.dec_util", "5"},
    {"gpu0.enc_sessions", "1"},
    {"gpu0.enc_fps", "60"},
    {"gpu0.enc_latency", "1500"},
    {"gpu0.cap_h264", "90"},
    {"gpu0.cap_hevc", "80"},
    {"gpu0.cap_av1", "70"},
    {"gpu1.uuid", "GPU-11111111-1111-4111-8111-57ab11111111"},
    {"gpu1.name", "NVIDIA GeForce RTX 3080 (stub)"},
    {"gpu1.pci", "00000000:02:00.0"},
    {"gpu1.mem_total", "10737418240"},
    {"gpu1.mem_used", "536870912"},
    {"gpu1.temp", "35"},
    {"gpu1.util", "0"},
    {"gpu1.enc_util", "0"},
    {"gpu1.dec_util", "0"},
    {"gpu1.enc_stats", "err:3"},
    {"gpu1.cap_h264", "100"},
    {"gpu1.cap_hevc", "100"},
    {"gpu1.cap_av1", "err:3"},
};

static void loadScript(void) {
  entryCount = 0;
  const char *file = getenv("NVML_STUB_SCRIPT");
  if (!file || !*file) return;
  FILE *f = fopen(file, "r");
  if (!f) return;
  char line[600];
  while (entryCount < MAX_ENTRIES && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0') continue;
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    snprintf(entries[entryCount].key, sizeof entries[entryCount].key, "%.63s", line);
    snprintf(entries[entryCount].value, sizeof entries[entryCount].value, "%.511s", eq + 1);
    entryCount++;
  }
  fclose(f);
}

static const char *lookup(const char *key) {
  for (int i = entryCount - 1; i >= 0; i--)
    if (strcmp(entries[i].key, key) == 0) return entries[i].value;
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
    if (strcmp(defaults[i][0], key) == 0) return defaults[i][1];
  return NULL;
}

static const char *gpuKey(unsigned int gpu, const char *figure, char *buffer, size_t size) {
  snprintf(buffer, size, "gpu%u.%s", gpu, figure);
  return lookup(buffer);
}

/* Entry `poll` of a comma-separated list (the last one repeats): a number or `err:N`. */
static nvmlReturn_t number(const char *value, unsigned long pollIndex, unsigned long long *out) {
  if (!value) return NOT_SUPPORTED;
  const char *p = value;
  for (unsigned long i = 0; i < pollIndex; i++) {
    const char *comma = strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
  if (strncmp(p, "err:", 4) == 0) return (nvmlReturn_t)strtol(p + 4, NULL, 10);
  *out = strtoull(p, NULL, 10);
  return OK;
}

static nvmlReturn_t figure(nvmlDevice_t device, const char *name, unsigned long long *out) {
  char key[64];
  if (!initCount) return UNINITIALIZED;
  if (!device) return INVALID_ARGUMENT;
  /* The poll whose count call came last: poll 0 is before/at the first nvmlDeviceGetCount_v2. */
  return number(gpuKey(device->index, name, key, sizeof key), poll ? poll - 1 : 0, out);
}

static nvmlReturn_t text(const char *value, char *buffer, unsigned int length) {
  if (!initCount) return UNINITIALIZED;
  if (!value) return NOT_SUPPORTED;
  if (strncmp(value, "err:", 4) == 0) return (nvmlReturn_t)strtol(value + 4, NULL, 10);
  if (!buffer || strlen(value) + 1 > length) return INSUFFICIENT_SIZE;
  memcpy(buffer, value, strlen(value) + 1);
  return OK;
}

STUB_EXPORT nvmlReturn_t nvmlInit_v2(void) {
  loadScript();
  unsigned long long code = 0;
  const char *scripted = lookup("init");
  if (scripted && number(scripted, 0, &code) != OK) code = 999;
  if (code != 0) return (nvmlReturn_t)code;
  initCount++;
  return OK;
}

STUB_EXPORT nvmlReturn_t nvmlShutdown(void) {
  if (!initCount) return UNINITIALIZED;
  initCount--;
  return OK;
}

STUB_EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
  }
}

STUB_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  return text(lookup("driver"), version, length);
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
  if (!initCount) return UNINITIALIZED;
  unsigned long long n = 0;
  nvmlReturn_t r = number(lookup("count"), poll, &n);
  poll++;
  if (r != OK) return r;
  *count = n > MAX_GPUS ? MAX_GPUS : (unsigned int)n;
  return OK;
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  char key[64];
  unsigned long long n = 0;
  if (!initCount) return UNINITIALIZED;
  if (number(lookup("count"), 0, &n) != OK || index >= n || index >= MAX_GPUS) return INVALID_ARGUMENT;
  const char *handle = gpuKey(index, "handle", key, sizeof key);
  if (handle && strncmp(handle, "err:", 4) == 0) return (nvmlReturn_t)strtol(handle + 4, NULL, 10);
  devices[index].index = index;
  *device = &devices[index];
  return OK;
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  char key[64];
  return device ? text(gpuKey(device->index, "uuid", key, sizeof key), uuid, length) : INVALID_ARGUMENT;
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  char key[64];
  return device ? text(gpuKey(device->index, "name", key, sizeof key), name, length) : INVALID_ARGUMENT;
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
  char key[64];
  if (!device || !pci) return INVALID_ARGUMENT;
  memset(pci, 0, sizeof *pci);
  return text(gpuKey(device->index, "pci", key, sizeof key), pci->busId, sizeof pci->busId);
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
  unsigned long long used = 0, total = 0;
  nvmlReturn_t r = figure(device, "mem_used", &used);
  if (r == OK) r = figure(device, "mem_total", &total);
  if (r != OK) return r;
  memory->used = used;
  memory->total = total;
  memory->free = total > used ? total - used : 0;
  return OK;
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, unsigned int sensor, unsigned int *temp) {
  unsigned long long v = 0;
  if (sensor != 0) return INVALID_ARGUMENT;
  nvmlReturn_t r = figure(device, "temp", &v);
  if (r == OK) *temp = (unsigned int)v;
  return r;
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *rates) {
  unsigned long long v = 0;
  nvmlReturn_t r = figure(device, "util", &v);
  if (r != OK) return r;
  rates->gpu = (unsigned int)v;
  rates->memory = 0;
  return OK;
}

static nvmlReturn_t codec(nvmlDevice_t device, const char *name, unsigned int *percent, unsigned int *periodUs) {
  unsigned long long v = 0;
  nvmlReturn_t r = figure(device, name, &v);
  if (r != OK) return r;
  *percent = (unsigned int)v;
  *periodUs = 167000;
  return OK;
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *percent, unsigned int *periodUs) {
  return codec(device, "enc_util", percent, periodUs);
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *percent, unsigned int *periodUs) {
  return codec(device, "dec_util", percent, periodUs);
}

STUB_EXPORT nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t device, unsigned int *sessions, unsigned int *fps, unsigned int *latencyUs) {
  unsigned long long whole = 0, s = 0, f = 0, l = 0;
  char key[64];
  if (!device) return INVALID_ARGUMENT;
  if (gpuKey(device->index, "enc_stats", key, sizeof key)) {
    nvmlReturn_t r = figure(device, "enc_stats", &whole);
    if (r != OK) return r;
  }
  nvmlReturn_t r = figure(device, "enc_sessions", &s);
  if (r == OK) r = figure(device, "enc_fps", &f);
  if (r == OK) r = figure(device, "enc_latency", &l);
  if (r != OK) return r;
  *sessions = (unsigned int)s;
  *fps = (unsigned int)f;
  *latencyUs = (unsigned int)l;
  return OK;
}

#ifndef STUB_WITHOUT_ENCODER_CAPACITY
STUB_EXPORT nvmlReturn_t nvmlDeviceGetEncoderCapacity(nvmlDevice_t device, unsigned int type, unsigned int *capacity) {
  static const char *names[] = {"cap_h264", "cap_hevc", "cap_av1"};
  unsigned long long v = 0;
  if (type > 2) return INVALID_ARGUMENT;
  nvmlReturn_t r = figure(device, names[type], &v);
  if (r == OK) *capacity = (unsigned int)v;
  return r;
}
#endif
