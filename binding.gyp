# node-gyp build of the Infera addon: CPU only (no CUDA, no TensorRT).
# Sources stay portable: no global -mavx2/-mfma; SIMD paths must be chosen at
# run time via cpu/cpu_features. C++ exceptions are enabled
# (NAPI_CPP_EXCEPTIONS), the same as in CMakeLists.txt.
{
  "targets": [
    {
      "target_name": "infera",
      "sources": [
        "native/src/addon.cc",
        "native/src/system_info.cc",
        "native/src/batch/axis_copy.cc",
        "native/src/batch/batch_bindings.cc",
        "native/src/json/double_buffer.cc",
        "native/src/json/number_arrays.cc",
        "native/src/json/json_bindings.cc",
        "native/src/cpu/cpu_features.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/src"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2", "-O0"],
      "cflags": ["-O3", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "ExceptionHandling": 1,
          "AdditionalOptions": ["/std:c++17", "/O2"]
        }
      }
    }
  ]
}
