include tools/tool.mk
include tools/ua.mk
include tools/tam.mk
