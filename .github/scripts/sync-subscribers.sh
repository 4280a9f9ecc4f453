#!/usr/bin/env bash
# Act on the list's mailbox: subscribe, confirm, unsubscribe, bounces (`newsletter
# subscribers sync`). Needs the IMAP secrets; without them, say so and do nothing.
# Addresses in its output are masked: Actions sets CI and GITHUB_ACTIONS.
set -euo pipefail

if [[ -z "${NEWSLETTER_IMAP_HOST:-}" ]]; then
  echo "::notice::no mailing list: set the repository secrets NEWSLETTER_IMAP_HOST, NEWSLETTER_IMAP_USER, NEWSLETTER_IMAP_PASSWORD and NEWSLETTER_LIST_SECRET to run subscriptions from a mailbox"
  exit 0
fi
newsletter subscribers sync
