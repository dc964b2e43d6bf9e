"""The API's endpoints, one module per area; ``huzhu.api.build_api_router`` mounts them."""
