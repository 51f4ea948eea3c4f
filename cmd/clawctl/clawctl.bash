# bash completion for clawctl: source it, or install it as
# /usr/share/bash-completion/completions/clawctl
_clawctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} i w=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
    -o | --output | --context) ((i++)) ;;
    -*) ;;
    *) w+=("${COMP_WORDS[i]}") ;;
    esac
  done
  case $prev in
  -o | --output) COMPREPLY=($(compgen -W "table json yaml" -- "$cur")); return ;;
  --context) COMPREPLY=($(compgen -W "$(clawctl config get-contexts 2>/dev/null | awk 'NR > 1 {print ($1 == "*" ? $2 : $1)}')" -- "$cur")); return ;;
  --phase) COMPREPLY=($(compgen -W "Pending Starting Running Stopping Stopped Hibernated Failed" -- "$cur")); return ;;
  esac
  if [ ${#w[@]} -eq 0 ]; then
    COMPREPLY=($(compgen -W "login logout whoami password config status start stop open events usage files tokens users runtimes quota audit help version" -- "$cur"))
    return
  fi
  case ${w[0]} in
  config) [ ${#w[@]} -eq 1 ] && COMPREPLY=($(compgen -W "view get-contexts current-context use-context set-context delete-context" -- "$cur")) ;;
  tokens) [ ${#w[@]} -eq 1 ] && COMPREPLY=($(compgen -W "create list revoke" -- "$cur")) ;;
  files)
    if [ ${#w[@]} -eq 1 ]; then
      COMPREPLY=($(compgen -W "ls get put rm mv mkdir" -- "$cur"))
    elif [ "${w[1]}" = put ] && [ ${#w[@]} -eq 2 ]; then
      COMPREPLY=($(compgen -f -- "$cur")) # the local file
    elif [ "${w[1]}" = get ] && [ ${#w[@]} -eq 3 ]; then
      COMPREPLY=($(compgen -f -- "$cur")) # where it goes
    fi ;;
  users) [ ${#w[@]} -eq 1 ] && COMPREPLY=($(compgen -W "list create invite disable enable delete" -- "$cur")) ;;
  runtimes) [ ${#w[@]} -eq 1 ] && COMPREPLY=($(compgen -W "list" -- "$cur")) ;;
  quota) [ ${#w[@]} -eq 1 ] && COMPREPLY=($(compgen -W "get set" -- "$cur")) ;;
  help) COMPREPLY=($(compgen -W "exit-codes environment config output" -- "$cur")) ;;
  esac
  [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--help --context --output $(clawctl "${w[@]}" --help 2>/dev/null | grep -o -- '--[a-z-]*' | sort -u | tr '\n' ' ')" -- "$cur"))
}
complete -F _clawctl clawctl
