# ECON's own RX and TX maps, as the original patch has them: the data structures of `econ` mode.
# Standalone (no model/, no kernel-port/), so sim/CMakeLists.txt and tests/econ/ can both include it.
add_library(econsim_econ_map ${ECONSIM_LIBRARY_TYPE} ${CMAKE_CURRENT_LIST_DIR}/econ_map.cpp)
target_include_directories(econsim_econ_map PUBLIC ${CMAKE_CURRENT_LIST_DIR})
