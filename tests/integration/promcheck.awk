# A strict checker of the Prometheus text exposition format, version 0.0.4
# (POSIX awk). Reads one exposition (the body of a /metrics answer) and
# prints "promcheck: line N: why" for each problem; exits 1 if there was
# any. Stricter than the format: every sample's family must have a # TYPE
# before its samples, the samples of a family must be contiguous, and a
# histogram must have, for each label set, buckets with increasing bounds
# and non-decreasing counts ending in le="+Inf", a _sum, and a _count equal
# to the +Inf bucket.

function bad(why) {
	printf "promcheck: line %d: %s: %s\n", NR, why, $0
	errors++
}

function is_name(s) { return s ~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/ }
function is_label(s) { return s ~ /^[a-zA-Z_][a-zA-Z0-9_]*$/ && s !~ /^__/ }

function is_value(s) {
	return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ ||
	       s ~ /^([-+]?Inf|NaN)$/
}

function num(s) {
	if (s == "+Inf" || s == "Inf") return 1e308 * 10
	if (s == "-Inf") return -1e308 * 10
	return s + 0
}

# Parses "{a="x",b="y"}" at the start of s into LN[1..n] and LV[1..n]
# (values unescaped); returns the rest of s after '}', or sets perr.
function parse_labels(s,    c, name, val, i) {
	nl = 0
	perr = ""
	s = substr(s, 2)
	while (1) {
		if (substr(s, 1, 1) == "}")
			return substr(s, 2)
		if (!match(s, /^[a-zA-Z_][a-zA-Z0-9_]*="/)) {
			perr = "bad label name"
			return ""
		}
		name = substr(s, 1, RLENGTH - 2)
		s = substr(s, RLENGTH + 1)
		val = ""
		while (1) {
			c = substr(s, 1, 1)
			if (c == "") {
				perr = "unterminated label value"
				return ""
			}
			s = substr(s, 2)
			if (c == "\"")
				break
			if (c == "\\") {
				c = substr(s, 1, 1)
				s = substr(s, 2)
				if (c == "n") c = "\n"
				else if (c != "\\" && c != "\"") {
					perr = "bad escape in a label value"
					return ""
				}
			}
			val = val c
		}
		if (!is_label(name)) {
			perr = "reserved or bad label name " name
			return ""
		}
		for (i = 1; i <= nl; i++)
			if (LN[i] == name) {
				perr = "label " name " twice"
				return ""
			}
		nl++
		LN[nl] = name
		LV[nl] = val
		c = substr(s, 1, 1)
		if (c == ",")
			s = substr(s, 2)
		else if (c != "}") {
			perr = "expected , or }"
			return ""
		}
	}
}

# The family a sample name belongs to, given the declared types.
function family_of(name,    base) {
	if (name in type && type[name] != "histogram")
		return name
	if (match(name, /_(bucket|sum|count)$/)) {
		base = substr(name, 1, RSTART - 1)
		if (base in type && type[base] == "histogram")
			return base
	}
	return ""
}

BEGIN { errors = 0; current = "" }

/^$/ { bad("empty line"); next }

/^#/ {
	if ($0 ~ /^# (HELP|TYPE) /) {
		split($0, w, " ")
		name = w[3]
		if (!is_name(name)) { bad("bad metric name in " w[2]); next }
		if (w[2] == "HELP") {
			if (name in help) bad("second HELP for " name)
			help[name] = 1
			rest = substr($0, length("# HELP " name) + 1)
			if (rest != "" && substr(rest, 1, 1) != " ") bad("HELP without a space")
			tmp = rest
			gsub(/\\\\/, "", tmp)
			if (tmp ~ /\\[^n]/ || tmp ~ /\\$/) bad("bad escape in HELP")
			next
		}
		if (NF != 4 || w[4] !~ /^(counter|gauge|histogram|summary|untyped)$/) {
			bad("bad TYPE line")
			next
		}
		if (name in type) { bad("second TYPE for " name); next }
		if (name in sampled) { bad("TYPE after samples of " name); next }
		type[name] = w[4]
	}
	next
}

{
	line = $0
	if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { bad("bad metric name"); next }
	name = substr(line, 1, RLENGTH)
	line = substr(line, RLENGTH + 1)
	nl = 0
	if (substr(line, 1, 1) == "{") {
		line = parse_labels(line)
		if (perr != "") { bad(perr); next }
	}
	if (substr(line, 1, 1) != " ") { bad("no space before the value"); next }
	n = split(substr(line, 2), parts, " ")
	if (n < 1 || n > 2 || !is_value(parts[1]) ||
	    (n == 2 && parts[2] !~ /^-?[0-9]+$/) || line ~ /  / || line ~ / $/) {
		bad("bad value or timestamp")
		next
	}
	value = parts[1]
	fam = family_of(name)
	if (fam == "") { bad("sample without a # TYPE for its family"); next }
	if (fam != current) {
		if (fam in done) { bad("samples of " fam " are not contiguous") }
		if (current != "") done[current] = 1
		current = fam
	}
	sampled[fam] = 1
	le = ""
	key = ""
	for (i = 1; i <= nl; i++) {
		if (LN[i] == "le") { le = LV[i]; continue }
		key = key LN[i] "=" LV[i] "\001"
	}
	series = name "\002" key "\002" le
	if (series in seen) { bad("series twice") }
	seen[series] = 1
	if ((type[fam] == "counter") && num(value) < 0) bad("negative counter")
	if (type[fam] != "histogram") {
		if (le != "" ) bad("le label outside a histogram")
		next
	}
	h = fam "\002" key
	hist[h] = 1
	if (name == fam "_bucket") {
		if (le == "" || !is_value(le)) { bad("bucket without a valid le"); next }
		if (h in inf) bad("bucket after le=\"+Inf\"")
		if ((h in last_le) && num(le) <= last_le[h]) bad("le not increasing")
		if ((h in last_n) && num(value) < last_n[h]) bad("bucket counts not cumulative")
		last_le[h] = num(le)
		last_n[h] = num(value)
		if (le == "+Inf") inf[h] = value
	} else if (le != "") {
		bad("le on a _sum or _count")
	} else if (name == fam "_sum") {
		hsum[h] = 1
	} else {
		hcount[h] = value
		hline[h] = NR
	}
}

END {
	for (h in hist) {
		split(h, hp, "\002")
		if (!(h in inf)) { printf "promcheck: histogram %s: no +Inf bucket\n", hp[1]; errors++ }
		else if (!(h in hcount) || hcount[h] + 0 != inf[h] + 0) {
			printf "promcheck: histogram %s: _count is not the +Inf bucket\n", hp[1]
			errors++
		}
		if (!(h in hsum)) { printf "promcheck: histogram %s: no _sum\n", hp[1]; errors++ }
	}
	exit errors ? 1 : 0
}
