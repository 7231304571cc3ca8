# CBOR diagnostic notation, normalised so that two renderings of the same
# bytes compare equal: comments (/ ... /) and white space are dropped, the
# text is lower-cased, and byte strings written as 'text' become h'hex'.
BEGIN { for (i = 32; i < 127; i++) ord[sprintf("%c", i)] = i }
{ text = text $0 "\n" }
END {
	out = ""; quote = ""; ascii = 0; comment = 0
	n = length(text)
	for (i = 1; i <= n; i++) {
		c = substr(text, i, 1)
		if (comment) {
			if (c == "/")
				comment = 0
			continue
		}
		if (quote != "") {
			if (c == quote) {
				out = out c
				quote = ""
			} else if (ascii) {
				out = out sprintf("%02x", ord[c])
			} else {
				out = out c
			}
			continue
		}
		if (c == "\"" || c == "'") {
			quote = c
			ascii = c == "'" && substr(out, length(out), 1) != "h"
			out = out (ascii ? "h" : "") c
		} else if (c == "/") {
			comment = 1
		} else if (c !~ /[ \t\r\n]/) {
			out = out c
		}
	}
	print tolower(out)
}
