# cmake -DBIN=<portcullis> -DTEMPLATE=<portcullis.toml.5.in> -DOUT=<portcullis.toml.5.gz>
#       -P gen_config_man.cmake
#
# Writes portcullis.toml(5): the prose of TEMPLATE with @CONFIG_REFERENCE@
# replaced by the output of `portcullis config-reference --format=roff` (the
# keys, as .SS/.TP paragraphs, from configReferenceRoff()), then gzip -9n.
# Fails the build, loudly, when the subcommand is missing or prints no keys:
# the key reference is never invented here.

if(NOT BIN OR NOT OUT OR NOT TEMPLATE)
  message(FATAL_ERROR "usage: cmake -DBIN=<portcullis> -DTEMPLATE=<in> -DOUT=<file.5.gz> -P gen_config_man.cmake")
endif()

execute_process(
  COMMAND ${BIN} config-reference --format=roff
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE roff
  ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR
    "portcullis.toml(5) cannot be generated: '${BIN} config-reference --format=roff' "
    "exited with '${rc}'.\n${err}\n"
    "The man page is built from the config schema (daemon/config, configReferenceRoff()); "
    "the hidden subcommand must exist in daemon/main.cpp.")
endif()
if(NOT roff MATCHES "(^|\n)\\.TP\n")
  message(FATAL_ERROR
    "portcullis.toml(5) cannot be generated: 'config-reference --format=roff' printed no "
    "key paragraphs (.TP lines); it must print configReferenceRoff().")
endif()
if(roff MATCHES "(^|\n)\\.TH ")
  message(FATAL_ERROR
    "portcullis.toml(5): 'config-reference --format=roff' must print only the keys "
    "(configReferenceRoff()); the page header and prose come from ${TEMPLATE}.")
endif()
if(NOT roff MATCHES "\n$")
  string(APPEND roff "\n")
endif()
file(READ ${TEMPLATE} page)
string(REPLACE "@CONFIG_REFERENCE@\n" "${roff}" page "${page}")

get_filename_component(dir ${OUT} DIRECTORY)
get_filename_component(stem ${OUT} NAME_WLE)
set(plain ${dir}/${stem})
file(WRITE ${plain} "${page}")
execute_process(
  COMMAND gzip -9n -c ${plain}
  OUTPUT_FILE ${OUT}
  RESULT_VARIABLE gz_rc)
if(NOT gz_rc EQUAL 0)
  file(REMOVE ${OUT})
  message(FATAL_ERROR "gzip -9n ${plain} failed (${gz_rc})")
endif()
