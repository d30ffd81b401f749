{
  # EncodeFarm's NVML telemetry addon. It links no NVIDIA library: NVML is opened with dlopen
  # (LoadLibrary on Windows) at run time, so this builds on machines without CUDA or a driver.
  "targets": [
    {
      "target_name": "encodefarm_nvml",
      "sources": ["src/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-ldl"] }],
        ["OS=='mac'", { "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "MACOSX_DEPLOYMENT_TARGET": "10.15" } }],
        ["OS=='win'", { "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17"] } } }]
      ]
    }
  ]
}
