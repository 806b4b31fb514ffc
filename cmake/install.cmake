# Installation: `cmake --install BUILD --prefix P` puts melgrad in place as a C++ library.
#   P/include/melgrad/{common,engine,kernels,models,datasets}/...   the headers, tree layout kept
#   P/lib/libmelgrad_*.{so,a}                                       the libraries
#   P/lib/cmake/melgrad/   melgradConfig.cmake (+ version, one targets file per component)
#   P/lib/pkgconfig/melgrad.pc                                      the engine, for pkg-config
# Users add P/include/melgrad to their include path and write `#include "engine/ops/ops.h"`,
# as inside the tree. The headers sit one folder down (as Eigen's in include/eigen3) so that
# generic folder names such as engine/ or models/ never land bare in a shared include folder.
#
# find_package(melgrad [COMPONENTS ...]) gives namespaced targets, per component:
#   engine    melgrad::engine (+ melgrad::common when common/ exists)  Eigen3, OpenMP
#   models    melgrad::models (the study's networks)                   -
#   datasets  melgrad::datasets (.npy, patreco3, HDF5 cache)           ZLIB, Threads
#   kernels   melgrad::kernels_emu, melgrad::kernels (nvcc build)      Boost.Context; CUDA
#   cuda      melgrad::cuda_emu, melgrad::cuda (nvcc build): the CUDA backend, linked whole
#   dist      melgrad::dist (MPI), melgrad::dist_nccl (nvcc build with NCCL)   MPI
# The same names exist in the build tree as aliases. melgrad::build_flags is exported only
# because static libraries carry it link-only (the sanitizer's link flags).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MELGRAD_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/melgrad)
set(MELGRAD_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/melgrad)
set(MELGRAD_INSTALLED_COMPONENTS)

# Headers of every installed library; not the audio front end's nor the benchmarks'.
foreach(folder common engine kernels models datasets)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${folder})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder} DESTINATION ${MELGRAD_INSTALL_INCLUDEDIR}
            FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh"
            PATTERN "audio" EXCLUDE PATTERN "bench" EXCLUDE PATTERN "fuzz" EXCLUDE)
  endif()
endforeach()

# The engine's headers are C++20: consumers compile with it whatever their default.
if(TARGET melgrad_engine)
  target_compile_features(melgrad_engine INTERFACE cxx_std_20)
endif()

# melgrad_install_component(COMPONENT target export_name [target export_name ...]): installs
# the targets that exist, exported as melgrad::export_name in the component's targets file.
function(melgrad_install_component component)
  set(targets)
  while(ARGN)
    list(POP_FRONT ARGN target name)
    if(TARGET ${target})
      set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
      if(NOT TARGET melgrad::${name})
        add_library(melgrad::${name} ALIAS ${target})
      endif()
      list(APPEND targets ${target})
    endif()
  endwhile()
  if(NOT targets)
    return()
  endif()
  # A backend wrapper links its static library as $<LINK_LIBRARY:WHOLE_ARCHIVE,lib>, and
  # CMake 3.25 exports the name inside that expression unchanged (melgrad_cuda_static, not
  # melgrad::cuda_static): name the imported target for the installed package.
  foreach(wrapper ${targets})
    get_target_property(links ${wrapper} INTERFACE_LINK_LIBRARIES)
    if(NOT links)
      continue()
    endif()
    foreach(archive ${targets})
      get_target_property(name ${archive} EXPORT_NAME)
      set(both "$<BUILD_INTERFACE:${archive}>$<INSTALL_INTERFACE:melgrad::${name}>")
      string(REPLACE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${archive}>"
             "$<LINK_LIBRARY:WHOLE_ARCHIVE,${both}>" links "${links}")
    endforeach()
    set_target_properties(${wrapper} PROPERTIES INTERFACE_LINK_LIBRARIES "${links}")
  endforeach()
  install(TARGETS ${targets} EXPORT melgrad-${component}-targets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          INCLUDES DESTINATION ${MELGRAD_INSTALL_INCLUDEDIR})
  install(EXPORT melgrad-${component}-targets NAMESPACE melgrad::
          DESTINATION ${MELGRAD_INSTALL_CMAKEDIR})
  set(MELGRAD_INSTALLED_COMPONENTS ${MELGRAD_INSTALLED_COMPONENTS} ${component} PARENT_SCOPE)
endfunction()

# In dependency order: the package config loads them in this order.
melgrad_install_component(engine
  melgrad_flags build_flags melgrad_common common melgrad_engine engine)
melgrad_install_component(models melgrad_models models)
melgrad_install_component(datasets melgrad_datasets datasets)
melgrad_install_component(kernels melgrad_kernels_emu kernels_emu melgrad_kernels_cuda kernels)
melgrad_install_component(cuda
  melgrad_cuda_emu_static cuda_emu_static melgrad_cuda_emu cuda_emu
  melgrad_cuda_static cuda_static melgrad_cuda cuda)
melgrad_install_component(dist
  melgrad_dist dist melgrad_dist_nccl_static dist_nccl_static melgrad_dist_nccl dist_nccl)

# Facts the package config needs about this build.
if(TARGET melgrad_kernels_cuda)
  set(MELGRAD_INSTALL_WITH_NVCC ON)
else()
  set(MELGRAD_INSTALL_WITH_NVCC OFF)
endif()
if(TARGET melgrad_dist_nccl)
  set(MELGRAD_INSTALL_WITH_NCCL ON)
else()
  set(MELGRAD_INSTALL_WITH_NCCL OFF)
endif()

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/melgradConfig.cmake.in
  ${PROJECT_BINARY_DIR}/package/melgradConfig.cmake
  INSTALL_DESTINATION ${MELGRAD_INSTALL_CMAKEDIR} NO_SET_AND_CHECK_MACRO)
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/melgradConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/melgradConfig.cmake
              ${PROJECT_BINARY_DIR}/package/melgradConfigVersion.cmake
        DESTINATION ${MELGRAD_INSTALL_CMAKEDIR})

# pkg-config: the prefix is known only at install time (`--prefix`), so the file is written
# then, from a template whose other fields are filled in now.
set(MELGRAD_PC_PREFIX "@MELGRAD_PC_PREFIX@")  # left for the install step
configure_file(${CMAKE_CURRENT_LIST_DIR}/melgrad.pc.in ${PROJECT_BINARY_DIR}/package/melgrad.pc.in
               @ONLY)
install(CODE "
  set(MELGRAD_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/package/melgrad.pc.in\"
                 \"${PROJECT_BINARY_DIR}/package/melgrad.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/package/melgrad.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
