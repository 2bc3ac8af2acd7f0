# The installed package: what `cmake --install` puts next to the libraries so that another
# project can use nk with either
#
#   find_package(nk 0.1 CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE nk::ipc)      # nk::nanokernel comes along
#
# or, without CMake, `pkg-config --cflags --libs nk`. A C program links nk::c (libnk_c.so, the
# C ABI of nk/nk.h), or `pkg-config --cflags --libs nk-c`. tests/install/ checks all of them from
# outside the tree.
#
# The libraries are static by default. A static archive does not carry its own dependencies, so
# everything a layer links, PRIVATE included, is the consumer's to link: CMake records private
# deps in the export as $<LINK_ONLY:...>, and nkConfig.cmake must find every package those
# targets come from (see nkConfig.cmake.in). When a layer links a new package, add it there and
# to nk.pc.in.

include(CMakePackageConfigHelpers)

set(NK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/nk)

install(EXPORT nkTargets
  NAMESPACE nk::
  DESTINATION ${NK_INSTALL_CMAKEDIR}
  FILE nkTargets.cmake)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/nkConfig.cmake.in
  ${PROJECT_BINARY_DIR}/nkConfig.cmake
  INSTALL_DESTINATION ${NK_INSTALL_CMAKEDIR})

# 0.x releases break their ABI freely; SameMajorVersion still rejects a request for 1.x.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/nkConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion)

install(FILES
  ${PROJECT_BINARY_DIR}/nkConfig.cmake
  ${PROJECT_BINARY_DIR}/nkConfigVersion.cmake
  DESTINATION ${NK_INSTALL_CMAKEDIR})

# pkg-config. The file finds its prefix from its own location (${pcfiledir}), so the installed
# tree can be moved or installed with `cmake --install --prefix` to somewhere else than
# CMAKE_INSTALL_PREFIX and still work.
set(_nk_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${_nk_pc_dir}")
  set(NK_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _nk_pc_up "/nk-prefix/${_nk_pc_dir}" "/nk-prefix")  # "../.."
  string(REGEX REPLACE "/$" "" _nk_pc_up "${_nk_pc_up}")
  set(NK_PC_PREFIX "\${pcfiledir}/${_nk_pc_up}")
endif()
foreach(_nk_dir IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_nk_dir}}")
    set(NK_PC_${_nk_dir} "${CMAKE_INSTALL_${_nk_dir}}")
  else()
    set(NK_PC_${_nk_dir} "\${prefix}/${CMAKE_INSTALL_${_nk_dir}}")
  endif()
endforeach()

# A static libnk_*.a needs its dependencies on the consumer's link line even when the consumer
# runs plain `pkg-config --libs nk` (without --static), so for static builds they are public
# fields; a shared libnk_*.so carries them itself, so there they are only .private.
# tl-expected is header-only and ships no .pc file; its header is in the default include path.
set(_nk_pc_requires tomlplusplus)
# Threads::Threads, spelled as gcc and clang both take it (on glibc >= 2.34 it adds no library).
set(_nk_pc_libs -pthread)
if(BUILD_SHARED_LIBS)
  set(NK_PC_REQUIRES "")
  set(NK_PC_REQUIRES_PRIVATE "${_nk_pc_requires}")
  set(NK_PC_LIBS "")
  set(NK_PC_LIBS_PRIVATE "${_nk_pc_libs}")
else()
  set(NK_PC_REQUIRES "${_nk_pc_requires}")
  set(NK_PC_REQUIRES_PRIVATE "")
  set(NK_PC_LIBS " ${_nk_pc_libs}")
  set(NK_PC_LIBS_PRIVATE "")
endif()

configure_file(${CMAKE_CURRENT_LIST_DIR}/nk.pc.in ${PROJECT_BINARY_DIR}/nk.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/nk.pc DESTINATION ${_nk_pc_dir})

# The C ABI has a file of its own: libnk_c.so is always shared and carries its C++ dependencies
# itself, so a C program needs only -lnk_c (nk.pc's C++ archives would need libstdc++ and the
# C++ packages on the C program's link line).
configure_file(${CMAKE_CURRENT_LIST_DIR}/nk-c.pc.in ${PROJECT_BINARY_DIR}/nk-c.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/nk-c.pc DESTINATION ${_nk_pc_dir})
