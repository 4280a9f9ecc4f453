#!/usr/bin/env bash
# Mail each issue the push added (see added-digests.sh), then the weekly edition of each week
# the push finished (see finished-weeks.sh), from the built outbox in $1.
# SMTP settings come from NEWSLETTER_SMTP_*; the recipients are the list's subscribers
# (when NEWSLETTER_IMAP_HOST is set) and/or NEWSLETTER_RECIPIENTS (one a line); without a
# host or recipients, say so and mail nobody.
# `newsletter send` keeps a ledger, so running this twice mails nobody twice.
set -euo pipefail

outbox="${1:-outbox}"

if [[ "${EVENT_NAME:-}" == "workflow_dispatch" ]]; then
  echo "::notice::started by hand: the site is rebuilt, no issue is mailed"
  exit 0
fi

editions="$(.github/scripts/added-digests.sh; .github/scripts/finished-weeks.sh)"
if [[ -z "$editions" ]]; then
  echo "::notice::this push added no digest; nothing to mail"
  exit 0
fi
if [[ -z "${NEWSLETTER_SMTP_HOST:-}" || ( -z "${NEWSLETTER_RECIPIENTS:-}" && -z "${NEWSLETTER_IMAP_HOST:-}" ) ]]; then
  echo "::notice::not mailing $(echo "$editions" | paste -sd ' ' -): set the repository secrets NEWSLETTER_SMTP_HOST and NEWSLETTER_IMAP_HOST (the list's mailbox) or NEWSLETTER_RECIPIENTS to mail new issues"
  exit 0
fi

audience=()
if [[ -n "${NEWSLETTER_IMAP_HOST:-}" ]]; then
  audience+=(--subscribers)
fi
if [[ -n "${NEWSLETTER_RECIPIENTS:-}" ]]; then
  recipients="$(mktemp)"
  trap 'rm -f "$recipients"' EXIT
  printf '%s\n' "$NEWSLETTER_RECIPIENTS" >"$recipients"
  audience+=(--recipients "$recipients")
fi
unset NEWSLETTER_RECIPIENTS

status=0
# `send` picks the subscribers of the edition's cadence: daily for a date, weekly for a week.
while IFS= read -r edition; do
  echo "mailing the edition $edition"
  newsletter send "$edition" "${audience[@]}" --outbox "$outbox" || status=1
done <<<"$editions"
exit "$status"
