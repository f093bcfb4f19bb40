"""The image-processor deployable: runs the image processor Lambda's code on the blob store's notifications."""
