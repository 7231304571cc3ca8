# The kit for driver and plugin authors: skeletons that build out of tree
# against an installed teep-broker with pkg-config (docs/driver-abi.md, Kit).
# Sources to copy: in the distribution, and in the Debian -dev package's
# examples (debian/teep-broker-dev.examples); tests/integration/
# kit_out_of_tree.sh builds and loads them.
EXTRA_DIST += examples/skeleton-driver/skeleton.c examples/skeleton-driver/Makefile \
	examples/skeleton-plugin/skeleton.c examples/skeleton-plugin/Makefile
