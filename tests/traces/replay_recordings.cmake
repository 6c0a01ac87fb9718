# traces.replay.<recording>.<mode>: every recording under traces/ (a directory with scenario.yaml,
# trace.pcap and expect.jsonl, found at configure time) replayed by the built econ-sim in each
# mode; replay-recording.sh says what each mode must give. econ mode's disagreements are held to
# econ-expected.txt (docs/econ-disagreements.md), fixed mode's use of the fast path to
# fast-frames.txt.
set(ECONSIM_RECORDINGS_DIR "${CMAKE_SOURCE_DIR}/traces")
file(GLOB econsim_recording_scenarios CONFIGURE_DEPENDS "${ECONSIM_RECORDINGS_DIR}/*/scenario.yaml")
foreach(scenario IN LISTS econsim_recording_scenarios)
	get_filename_component(dir "${scenario}" DIRECTORY)
	get_filename_component(recording "${dir}" NAME)
	if(NOT EXISTS "${dir}/trace.pcap" OR NOT EXISTS "${dir}/expect.jsonl")
		continue()
	endif()
	# A recording of what the model does not know yet (routed overlays, fragments: issue 16) says so
	# in model-pending.txt; it is recorded and checked by traces/record, not replayed.
	if(EXISTS "${dir}/model-pending.txt")
		continue()
	endif()
	foreach(mode off fixed econ)
		add_test(NAME traces.replay.${recording}.${mode}
			COMMAND bash "${CMAKE_CURRENT_LIST_DIR}/replay-recording.sh" $<TARGET_FILE:econ-sim> "${dir}" ${mode}
				"${CMAKE_CURRENT_LIST_DIR}/econ-expected.txt" "${CMAKE_CURRENT_LIST_DIR}/fast-frames.txt")
		set_tests_properties(traces.replay.${recording}.${mode} PROPERTIES LABELS "traces;replay;quick")
	endforeach()
endforeach()
