"""The OpenAI-compatible backend's parts (params, transport, policy, stream); joined in ``openai_compat``."""
