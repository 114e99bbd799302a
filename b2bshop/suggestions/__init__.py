"""Up-sell and cross-sell (SPEC B4): rules that suggest a replacement or an addition."""
