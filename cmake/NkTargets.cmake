# nk_add_layer(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
#
# The one place that defines an nk layer library: target nk_<NAME>, alias nk::<NAME>, public
# headers under <layer>/include, warnings and sanitizers, and the export set used by install().
# Dependencies between layers are declared here, so the direction in DESIGN.md section 4 is
# visible in each layer's CMakeLists.txt.

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
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS")
  set(target nk_${name})
  add_library(${target} ${ARG_SOURCES})
  add_library(nk::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME nk_${name}
    EXPORT_NAME ${name}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${target} PUBLIC cxx_std_20)
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
