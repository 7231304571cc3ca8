include tools/tool.mk
include tools/ua.mk
include tools/tam.mk
EXTRA_DIST += tools/demo.sh tools/usecase.sh
include tools/driver-check.mk
