"""mce: an open, cloud-native e-commerce platform."""
