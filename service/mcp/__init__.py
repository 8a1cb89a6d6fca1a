"""The MCP dialect: the memory tools over the Model Context Protocol (Streamable HTTP at /mcp
and stdio through ``memory-service mcp``), a thin layer over the domain services like the
REST controllers."""
