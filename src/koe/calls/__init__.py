"""B2BUA call control: calls and legs, bridging, hold, transfer, conference, CDRs (issue 4)."""
