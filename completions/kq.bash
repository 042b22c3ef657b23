# bash completion for kq-broker, kq-produce, kq-consume, kq-topics and kq-groups
# shellcheck shell=bash

_kq_topics_list()
{
	kq-topics list --timeout 1s 2>/dev/null
}

_kq()
{
	local cur prev words cword opts cmds=""
	_init_completion -n = 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}

	case ${words[0]##*/} in
	kq-broker)
		opts="--config --listen --advertise --data-dir --id --zookeeper --property
			--log-format --check-config --verbose --help --version"
		case $prev in
		--config) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
		-d|--data-dir) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
		--log-format) mapfile -t COMPREPLY < <(compgen -W "text json" -- "$cur"); return ;;
		esac
		;;
	kq-produce)
		opts="--brokers --topic --partition --format --delimiter --null-data
			--key-delimiter --key --header --empty-is-null --skip-empty
			--max-record-bytes --on-error --rejects --acks --compression --linger
			--buffer --count --tee --print-offsets --create --keep-partitions --no-idempotence
			--timeout --property --show-config --config --profile --progress
			--no-progress --verbose --quiet --help --version"
		case $prev in
		-t|--topic) mapfile -t COMPREPLY < <(compgen -W "$(_kq_topics_list)" -- "$cur"); return ;;
		-f|--format) mapfile -t COMPREPLY < <(compgen -W "lines json binary raw" -- "$cur"); return ;;
		-a|--acks) mapfile -t COMPREPLY < <(compgen -W "all 1 0" -- "$cur"); return ;;
		-z|--compression) mapfile -t COMPREPLY < <(compgen -W "none gzip snappy lz4 zstd" -- "$cur"); return ;;
		--on-error) mapfile -t COMPREPLY < <(compgen -W "fail skip" -- "$cur"); return ;;
		--rejects) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
		esac
		;;
	kq-consume)
		opts="--brokers --topic --group --partition --offset --exit --count
			--idle-timeout --format -J --delimiter --null-data --key-delimiter --null
			--header-match --unbuffered --no-commit --commit-interval --property
			--timeout --show-config --config --profile --progress --no-progress --verbose
			--quiet --help --version"
		case $prev in
		-t|--topic) mapfile -t COMPREPLY < <(compgen -W "$(_kq_topics_list)" -- "$cur"); return ;;
		-f|--format) mapfile -t COMPREPLY < <(compgen -W "lines json binary" -- "$cur"); return ;;
		-o|--offset) mapfile -t COMPREPLY < <(compgen -W "beginning end stored" -- "$cur"); return ;;
		-X|--property)
			mapfile -t COMPREPLY < <(compgen -W "list session.timeout.ms= heartbeat.interval.ms=
				max.poll.interval.ms= partition.assignment.strategy= group.instance.id=
				client.id=" -- "$cur")
			return ;;
		esac
		;;
	kq-topics)
		cmds="list describe create alter delete"
		opts="--brokers --partitions --replication-factor --config --delete-config
			--if-not-exists --if-exists --yes -l --internal --configs --under-replicated
			--unavailable --under-min-isr --at-min-isr --overrides --json
			--no-headers --config-file --profile --timeout --verbose --quiet --help
			--version"
		local i sub=""
		for ((i = 1; i < cword; i++)); do
			case ${words[i]} in list|describe|create|alter|delete) sub=${words[i]}; break ;; esac
		done
		if [[ -z $sub && $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$cmds" -- "$cur")
			return
		fi
		if [[ $cur != -* ]]; then
			case $sub in describe|alter|delete)
				mapfile -t COMPREPLY < <(compgen -W "$(_kq_topics_list)" -- "$cur")
				return ;;
			esac
		fi
		;;
	kq-groups)
		cmds="list describe lag reset delete delete-offsets"
		opts="--brokers --timeout --json --no-headers --config --profile --verbose
			--quiet --help --version --long --state --all --members --by --topic
			--all-topics --to --to-earliest --to-latest --to-current --to-offset
			--shift-by --to-datetime --by-duration --from-file --execute --export --yes"
		case $prev in
		-t|--topic) mapfile -t COMPREPLY < <(compgen -W "$(_kq_topics_list)" -- "$cur"); return ;;
		--by) mapfile -t COMPREPLY < <(compgen -W "total topic partition" -- "$cur"); return ;;
		--state)
			# list --state STATE; describe --state takes no value
			if [[ " ${words[*]} " == *" list "* ]]; then
				mapfile -t COMPREPLY < <(compgen -W "Stable Empty PreparingRebalance
					CompletingRebalance Dead" -- "$cur")
				return
			fi
			;;
		--from-file|--config|-F) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
		esac
		local j gsub=""
		for ((j = 1; j < cword; j++)); do
			case ${words[j]} in list|describe|lag|reset|delete|delete-offsets) gsub=${words[j]}; break ;; esac
		done
		if [[ -z $gsub && $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$cmds" -- "$cur")
			return
		fi
		if [[ $cur != -* && $gsub != list ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(kq-groups list --timeout 1s 2>/dev/null)" -- "$cur")
			return
		fi
		;;
	*)
		return
		;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
	fi
}

complete -F _kq kq-broker kq-produce kq-consume kq-topics kq-groups
