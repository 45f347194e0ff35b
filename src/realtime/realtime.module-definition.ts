import { ConfigurableModuleBuilder } from '@nestjs/common';
import { REALTIME_MODULE_OPTIONS } from './core/gateway/module-options.js';
import type { RealtimeModuleOptions } from './realtime.options.js';

export { REALTIME_MODULE_OPTIONS };

export const { ConfigurableModuleClass: ConfigurableRealtimeModule } =
  new ConfigurableModuleBuilder<RealtimeModuleOptions>({ optionsInjectionToken: REALTIME_MODULE_OPTIONS })
    .setClassMethodName('forRoot')
    // Global by default, so any feature module of the host can inject `ChatPublisher` & co.
    .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();
