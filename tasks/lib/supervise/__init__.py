"""Running programs (one on our terminal, or several side by side), none outliving `inv`."""
