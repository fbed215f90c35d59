import { pickBanner, type BannerAction } from '../banner.ts';
import { useActions, useEngine } from '../context.ts';
import { useNow } from '../use-now.ts';

export function BannerView() {
  const link = useEngine((s) => s.link);
  const status = useEngine((s) => s.status);
  const actions = useActions();
  const now = useNow();
  const banner = pickBanner(link, status, now);
  if (!banner) return null;
  const run: Record<BannerAction, () => unknown> = {
    'sign-in': () => actions.signIn().then((r) => r && window.open(r.authorizationUrl, '_blank', 'popup,width=480,height=640')),
    'retry-now': () => actions.retryNow(),
    resume: () => actions.resume(),
  };
  return (
    <div className={`banner banner-${banner.severity}`} role={banner.severity === 'error' ? 'alert' : 'status'} data-testid="banner" data-kind={banner.kind}>
      <div className="banner-text">
        <strong>{banner.title}</strong>
        {banner.detail && <span>{banner.detail}</span>}
      </div>
      {banner.action && (
        <button type="button" className="primary" onClick={() => void run[banner.action!.id]()}>
          {banner.action.label}
        </button>
      )}
    </div>
  );
}
