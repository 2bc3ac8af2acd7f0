# nk_protobuf_generate(TARGET target PROTOS a.proto ... [IMPORT_DIRS dir ...] [OUT_DIR dir])
#
# Runs protoc with --cpp_out and protoc-gen-nk's --nk_out on each .proto, adds the generated
# x.pb.cc and x.nk.cc to `target`, puts OUT_DIR on its include path and links it with nk::rpc:
#
#   add_executable(telemetry_server server.cpp)
#   nk_protobuf_generate(TARGET telemetry_server PROTOS telemetry.proto)
#   // server.cpp: #include "telemetry.nk.h"
#
# A proto's name inside protoc (and so the generated files' paths under OUT_DIR and its
# #include lines) is its path relative to the first IMPORT_DIRS entry that holds it; IMPORT_DIRS
# defaults to the current source directory. OUT_DIR defaults to <binary dir>/nk_generated.
# Works in nk's own tree and, installed, after find_package(nk).
function(nk_protobuf_generate)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "TARGET;OUT_DIR" "PROTOS;IMPORT_DIRS")
  if(NOT ARG_TARGET OR NOT ARG_PROTOS)
    message(FATAL_ERROR "nk_protobuf_generate: TARGET and PROTOS are required")
  endif()
  if(NOT ARG_OUT_DIR)
    set(ARG_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/nk_generated)
  endif()
  if(NOT ARG_IMPORT_DIRS)
    set(ARG_IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  if(TARGET protoc-gen-nk)
    set(plugin $<TARGET_FILE:protoc-gen-nk>)
    set(plugin_target protoc-gen-nk)
  elseif(TARGET nk::protoc-gen-nk)
    set(plugin $<TARGET_FILE:nk::protoc-gen-nk>)
    set(plugin_target nk::protoc-gen-nk)
  else()
    message(FATAL_ERROR "nk_protobuf_generate: no protoc-gen-nk target (find_package(nk) first)")
  endif()
  if(NOT TARGET protobuf::protoc)
    find_package(Protobuf REQUIRED)  # imported targets are per directory: find it where it is used
  endif()

  set(include_flags)
  set(abs_import_dirs)
  foreach(dir IN LISTS ARG_IMPORT_DIRS)
    get_filename_component(abs_dir ${dir} ABSOLUTE)
    list(APPEND abs_import_dirs ${abs_dir})
    list(APPEND include_flags -I${abs_dir})
  endforeach()

  set(generated_sources)
  foreach(proto IN LISTS ARG_PROTOS)
    get_filename_component(abs_proto ${proto} ABSOLUTE)
    set(rel)
    foreach(dir IN LISTS abs_import_dirs)
      file(RELATIVE_PATH candidate ${dir} ${abs_proto})
      if(NOT candidate MATCHES "^\\.\\./")
        set(rel ${candidate})
        break()
      endif()
    endforeach()
    if(NOT rel)
      message(FATAL_ERROR "nk_protobuf_generate: ${proto} is under none of IMPORT_DIRS (${ARG_IMPORT_DIRS})")
    endif()
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(outputs ${ARG_OUT_DIR}/${base}.pb.h ${ARG_OUT_DIR}/${base}.pb.cc
                ${ARG_OUT_DIR}/${base}.nk.h ${ARG_OUT_DIR}/${base}.nk.cc)
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_OUT_DIR}
      COMMAND protobuf::protoc --plugin=protoc-gen-nk=${plugin} --cpp_out=${ARG_OUT_DIR} --nk_out=${ARG_OUT_DIR}
              ${include_flags} ${abs_proto}
      DEPENDS ${abs_proto} ${plugin_target} protobuf::protoc
      COMMENT "protoc-gen-nk: ${rel}"
      VERBATIM)
    list(APPEND generated_sources ${ARG_OUT_DIR}/${base}.pb.cc ${ARG_OUT_DIR}/${base}.nk.cc)
  endforeach()
  target_sources(${ARG_TARGET} PRIVATE ${generated_sources})
  target_include_directories(${ARG_TARGET} PUBLIC $<BUILD_INTERFACE:${ARG_OUT_DIR}>)
  target_link_libraries(${ARG_TARGET} PUBLIC nk::rpc)
endfunction()
