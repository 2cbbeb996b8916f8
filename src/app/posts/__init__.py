"""The posts domain: drafts and published posts, with their authors."""
