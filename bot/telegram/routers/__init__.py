"""One Router per feature; `build_dispatcher` wires them in one place."""
