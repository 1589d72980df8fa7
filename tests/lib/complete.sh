# complete.sh: what the bash completion offers for a command line (sourced by
# tests/build/completion.sh and tests/integration/operator.sh).
#   complete_line LINE   prints the candidates for LINE, completed at its end, one a
#                        line, sorted; the completion's stderr goes to $COMPLETE_ERR.
# It runs a fresh bash that sources scripts/completion/xdp-canary.bash and calls the
# function as bash does: COMP_LINE and COMP_POINT, and COMP_WORDS split as readline
# splits them (at blanks, and at the = and : of COMP_WORDBREAKS).
COMPLETE_ERR=${COMPLETE_ERR:-/dev/null}
complete_line() {
	bash --norc --noprofile -c '
		. scripts/completion/xdp-canary.bash
		COMP_LINE=$1 COMP_POINT=${#1}
		read -ra COMP_WORDS <<<"$(sed -E "s/([=:])/ \1 /g" <<<"$1")"
		[[ $1 == *" " || $1 == *= || $1 == *: ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_xdp_canary "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$1" 2>"$COMPLETE_ERR" | sed '/^$/d' | sort
}
