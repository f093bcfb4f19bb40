"""The image processor: S3 object-created records in, WebP thumbnails and a call to the product service out.

The Lambda entry point is `mce.functions.image_processor.handler.handler`; locally the image-processor service
feeds it the blob store's notifications.
"""
