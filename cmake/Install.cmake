# cmake --install: headers, the library, mqConfig.cmake (find_package(mq)) and mq.pc.
include(CMakePackageConfigHelpers)

install(TARGETS mq EXPORT mqTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/mq DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mqTargets NAMESPACE mq:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mq)

configure_package_config_file(cmake/mqConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/mqConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mq)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/mqConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mqConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/mqConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mq)

# mq.pc locates the prefix relative to itself (${pcfiledir}): `cmake --install --prefix`
# chooses the prefix after configure time, so a prefix baked in here could be wrong.
# Absolute install dirs (rare) are used as they are.
file(RELATIVE_PATH MQ_PC_UP "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
string(REGEX REPLACE "/$" "" MQ_PC_UP "${MQ_PC_UP}")
set(MQ_PC_PREFIX "\${pcfiledir}/${MQ_PC_UP}")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(MQ_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(MQ_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(cmake/mq.pc.in ${CMAKE_CURRENT_BINARY_DIR}/mq.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mq.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
