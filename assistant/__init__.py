"""The agent service: settings, agent loop, planner, conversation memory and audit."""
