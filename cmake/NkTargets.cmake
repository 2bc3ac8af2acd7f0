# nk_add_layer(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...]
#              [C_ABI VERSION_SCRIPT FILE])
#
# The one place that defines an nk layer library: target nk_<NAME>, alias nk::<NAME>, public
# headers under <layer>/include, warnings and sanitizers, and the export set used by install().
# Dependencies between layers are declared here, so the direction in DESIGN.md section 4 is
# visible in each layer's CMakeLists.txt.
#
# C_ABI makes a library whose interface is C (bindings/): always shared, so that a C program
# links one libnk_<NAME>.so and none of the C++ libraries behind it; C++20 is needed only to
# build it, not by its users; and VERSION_SCRIPT (a GNU ld version script) decides which
# symbols it exports.

function(nk_apply_build_flags target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion)
  if(NK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Sanitizers apply to everything built in the tree (libraries, tools and tests alike), so they
# are set once, globally, rather than per target.
if(NK_SANITIZE)
  list(JOIN NK_SANITIZE "," _nk_sanitizers)
  add_compile_options(-fsanitize=${_nk_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_nk_sanitizers})
endif()

function(nk_add_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "C_ABI" "VERSION_SCRIPT" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS")
  set(target nk_${name})
  if(ARG_C_ABI)
    add_library(${target} SHARED ${ARG_SOURCES})
  else()
    add_library(${target} ${ARG_SOURCES})
  endif()
  add_library(nk::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME nk_${name}
    EXPORT_NAME ${name}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  if(ARG_C_ABI)
    target_compile_features(${target} PRIVATE cxx_std_20)
  else()
    target_compile_features(${target} PUBLIC cxx_std_20)
  endif()
  if(ARG_VERSION_SCRIPT)
    target_link_options(${target} PRIVATE -Wl,--version-script=${ARG_VERSION_SCRIPT})
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${ARG_VERSION_SCRIPT})
    # Every symbol resolved at link time, not at a user's dlopen; except under sanitizers, whose
    # runtime clang links into the executable only, leaving the library's references open.
    if(NOT NK_SANITIZE)
      target_link_options(${target} PRIVATE -Wl,--no-undefined)
    endif()
  endif()
  # clang links a sanitizer's C++ part (UBSan's vptr checks, which the library's C++ uses) only
  # into programs it links as C++; a C program of a sanitizer build must ask for it.
  if(ARG_C_ABI AND NK_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    target_link_options(${target} INTERFACE "$<$<LINK_LANGUAGE:C>:-fsanitize-link-c++-runtime;-lstdc++>")
  endif()
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  nk_apply_build_flags(${target})
  install(TARGETS ${target} EXPORT nkTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# nk_add_tool(NAME SOURCES ... LIBS ...): a daemon or command-line tool, installed to bin/.
function(nk_add_tool name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "SOURCES;LIBS")
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
  nk_apply_build_flags(${name})
  install(TARGETS ${name} EXPORT nkTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()
