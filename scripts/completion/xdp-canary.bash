# xdp-canary.bash: bash completion for canary-loader, canaryctl and canaryd.
# Nothing here lists a command or an option: they come from the programs' own --help
# (the option tables in userspace/lib/cli), so a new option completes without a change
# here. A choice (--mode native|skb) comes from the usage error the table prints for a
# bad value; service names from 'canaryctl status --json' (root only: the pins are
# root's; without them nothing is offered). Installed as
# share/bash-completion/completions/{canaryctl,canary-loader,canaryd}.

# The help text of PROG [CMD]. Not cached: a few milliseconds a call, and always the
# help of the program as it is now.
_xdp_canary_help() {
	"$1" ${2:+"$2"} --help 2>/dev/null
}

# The commands a help lists (its "Commands:" block).
_xdp_canary_commands() {
	sed -nE '/^Commands:/,/^$/s/^  ([a-z][a-z-]*) .*/\1/p'
}

# A help's options, one a line: "LONG SHORT ARG" (SHORT "-" when none; ARG "-" for a
# flag, "=" for an optional value, else the metavar).
_xdp_canary_options() {
	local long short opt meta
	sed -nE 's/^  (-([A-Za-z0-9]), |    )--([a-z0-9][a-z0-9-]*)(\[=[^]]*\])?( ([^ ]+))?( {2,}.*)?$/\3|\2|\4|\6/p' |
		while IFS='|' read -r long short opt meta; do
			[[ -n $opt ]] && meta="="
			echo "$long ${short:--} ${meta:--}"
		done
}

# Every option name of a help, long and short.
_xdp_canary_optwords() {
	_xdp_canary_options | awk '{ print "--" $1; if ($2 != "-") print "-" $2 }'
}

# The choices of an option that takes one of a list (CLI_ENUM): from the usage error a
# bad value gets. --help after it makes a value that is accepted print the help and
# exit: the command never runs.
_xdp_canary_choices() {
	"$@" --help 2>&1 >/dev/null | sed -nE "s/.* must be ([a-z0-9_-]+(, [a-z0-9_-]+)* or [a-z0-9_-]+);.*/\1/p" |
		sed -E 's/,? or |, / /g'
}

# The services in the maps under the pin root the line names (or the default one).
_xdp_canary_services() {
	local prog=$1 pin=$2
	timeout 3 "$prog" status --json ${pin:+--pin-root "$pin"} 2>/dev/null |
		sed -nE 's/^ *"name": *"([^"]+)".*/\1/p'
}

# The placeholders at positional PAT of a command's synopsis lines ("Usage: PROG CMD
# ..." and the lines under it), for the positionals typed so far (words in $@): a
# line counts when its earlier literal words (start|status|...) match them.
_xdp_canary_positional() {
	local prog=$1 cmd=$2 k=$3
	shift 3
	local typed=("$@") line tok toks i j opt ok
	while read -r line; do
		line=${line#Usage: }
		line=${line//[\[\]]/ }
		read -ra toks <<<"$line"
		[[ ${toks[1]:-} == "$cmd" ]] || continue
		local pos=() skipnext=0
		for ((i = 2; i < ${#toks[@]}; i++)); do
			tok=${toks[i]}
			if [[ $tok == -* ]]; then
				skipnext=1
			elif [[ $tok == '|' || $tok == '...' ]]; then
				skipnext=0
			elif ((skipnext)) && [[ $tok =~ ^[A-Z][A-Z0-9:_=-]*$ ]]; then
				skipnext=0
			else
				skipnext=0
				pos+=("$tok")
			fi
		done
		ok=1
		for ((j = 0; j < k; j++)); do
			opt=${pos[j]:-}
			if [[ $opt =~ ^[a-z] ]]; then
				[[ "|$opt|" == *"|${typed[j]:-}|"* ]] || ok=0
			fi
		done
		((ok)) && [[ -n ${pos[k]:-} ]] && echo "${pos[k]}"
	done < <(_xdp_canary_help "$prog" "$cmd" | sed -nE '/^(Usage: |       )[a-z-]+ /p')
}

# Candidates for the value of option OPT (metavar META) of PROG CMD.
_xdp_canary_value() {
	local prog=$1 cmd=$2 opt=$3 meta=$4 cur=$5
	case $meta in
	FILE | PATH)
		compopt -o filenames 2>/dev/null
		compgen -f -- "$cur"
		;;
	DIR)
		compopt -o filenames 2>/dev/null
		compgen -d -- "$cur"
		;;
	IFACE) compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur" ;;
	GROUP) compgen -g -- "$cur" ;;
	[A-Z]*) compgen -W "$(_xdp_canary_choices "$prog" ${cmd:+"$cmd"} "--$opt=?")" -- "$cur" ;;
	esac
}

# The candidates for the words in the array _xw, the last one being completed.
_xdp_canary_reply() {
	local prog=$1 COMP_CWORD=$((${#_xw[@]} - 1)) help cmd="" i w pin=""
	local cur=${_xw[COMP_CWORD]}
	local -a COMP_WORDS=("${_xw[@]}")
	local -a typed=()
	local -A takes=() longof=()
	COMPREPLY=()
	# canaryd has no commands; the others take one, after the global options.
	help=$(_xdp_canary_help "$prog")
	if grep -q '^Commands:' <<<"$help"; then
		for ((i = 1; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -* ]] && continue
			cmd=${COMP_WORDS[i]}
			break
		done
		if [[ -z $cmd ]]; then
			if [[ $cur == -* ]]; then
				mapfile -t COMPREPLY < <(compgen -W "$(_xdp_canary_optwords <<<"$help")" -- "$cur")
			else
				mapfile -t COMPREPLY < <(compgen -W "$(_xdp_canary_commands <<<"$help") help" -- "$cur")
			fi
			return 0
		fi
		if [[ $cmd == help ]]; then
			((COMP_CWORD == i + 1)) &&
				mapfile -t COMPREPLY < <(compgen -W "$(_xdp_canary_commands <<<"$help")" -- "$cur")
			return 0
		fi
		help=$(_xdp_canary_help "$prog" "$cmd")
		[[ -n $help ]] || return 0
	else
		i=0
	fi
	# The options of the command that take a value (their metavar), by long name, and
	# the long name of each short one.
	local long short arg
	while read -r long short arg; do
		[[ $short != - ]] && longof[-$short]=--$long
		[[ $arg == - || $arg == = ]] || takes[--$long]=$arg
	done < <(_xdp_canary_options <<<"$help")
	# Walk the words after the command: positionals, option values, the pin root.
	local opt=""
	for ((w = i + 1; w < COMP_CWORD; w++)); do
		local word=${COMP_WORDS[w]}
		if [[ -n $opt ]]; then
			[[ $opt == --pin-root ]] && pin=$word
			opt=""
		elif [[ $word == --pin-root=* ]]; then
			pin=${word#--pin-root=}
		elif [[ $word == -* && $word != *=* ]]; then
			word=${longof[$word]:-$word}
			[[ -n ${takes[$word]+x} ]] && opt=$word
		elif [[ $word != -* ]]; then
			typed+=("$word")
		fi
	done
	if [[ -n $opt ]]; then
		mapfile -t COMPREPLY < <(_xdp_canary_value "$prog" "$cmd" "${opt#--}" "${takes[$opt]}" "$cur")
		return 0
	fi
	if [[ $cur == --*=* ]]; then
		long=${cur%%=*}
		[[ -n ${takes[$long]+x} ]] || return 0
		mapfile -t COMPREPLY < <(_xdp_canary_value "$prog" "$cmd" "${long#--}" "${takes[$long]}" "${cur#*=}")
		COMPREPLY=("${COMPREPLY[@]/#/$long=}")
		return 0
	fi
	if [[ $cur == -* || -z $cmd ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_xdp_canary_optwords <<<"$help")" -- "$cur")
		return 0
	fi
	local cands="" p
	# Each placeholder once: a command with several synopsis lines (status, and status
	# --store) names SERVICE in each.
	for p in $(_xdp_canary_positional "$prog" "$cmd" "${#typed[@]}" "${typed[@]}" | sort -u); do
		case $p in
		SERVICE) cands+=" $(_xdp_canary_services "$prog" "$pin")" ;;
		[a-z]*) cands+=" ${p//|/ }" ;;
		esac
	done
	mapfile -t COMPREPLY < <(compgen -W "$cands" -- "$cur")
	return 0
}

# Bash splits words at COMP_WORDBREAKS (= and :, as in --mode=skb, ADDR:PORT): work on
# the line split at blanks only, then hand back each candidate without the part before
# the word bash completes.
_xdp_canary() {
	local -a _xw
	local line bcur=${COMP_WORDS[COMP_CWORD]} c
	if [[ -n ${COMP_LINE+x} ]]; then
		line=${COMP_LINE:0:COMP_POINT}
		read -ra _xw <<<"$line"
		[[ -z $line || $line == *[[:blank:]] ]] && _xw+=("")
	else
		_xw=("${COMP_WORDS[@]:0:COMP_CWORD+1}")
	fi
	_xdp_canary_reply "$1"
	c=${_xw[${#_xw[@]} - 1]}
	if [[ $c != "$bcur" && $c == *"$bcur" ]]; then
		COMPREPLY=("${COMPREPLY[@]#"${c%"$bcur"}"}")
	fi
	return 0
}

complete -o default -F _xdp_canary canary-loader canaryctl canaryd
