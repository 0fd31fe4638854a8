"""Local servers for backend tests: llama.cpp's OpenAI-compatible server and a fault server."""
