# ctest bench.gen-capture-replays-clean: a small capture from gen-capture, replayed in fixed mode
# with --check, must end every frame where the vanilla kernel would (exit 0) and take the fast path.
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${GEN} --frames 20000 --flows 1000 ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "gen-capture failed: ${rc}")
endif()
execute_process(COMMAND ${SIM} replay --scenario ${OUT}/scenario.yaml --mode fixed --check --no-progress
		${OUT}/trace.pcap
	RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
	message(FATAL_ERROR "replay --check exited ${rc}\n${out}\n${err}")
endif()
if(NOT out MATCHES "paths: fast [0-9]+")
	message(FATAL_ERROR "no frame took the fast path:\n${out}")
endif()
