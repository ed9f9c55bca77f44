"""CrossGuard policy pack of the render farm."""
