"""The Slack adapter: a Bolt app in HTTP mode (`http.mount_slack`) or Socket Mode (`billing-assistant slack`)."""
