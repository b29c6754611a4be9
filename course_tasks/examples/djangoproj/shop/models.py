"""The shop's one model: an order, which ``ship_order`` marks as shipped (chapter 12)."""

from django.db import models


class Order(models.Model):
    email = models.EmailField()
    status = models.CharField(max_length=20, default="new")
