import { Module } from '@nestjs/common';
import { CheckoutService } from './checkout.service';

/** The publishing side. SidekickClient comes from SidekickModule, which is global. */
@Module({
  providers: [CheckoutService],
  exports: [CheckoutService],
})
export class CheckoutModule {}
