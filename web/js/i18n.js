//! The one catalogue of every text the web front end shows, in Japanese and English, and the
//! helpers that apply it.
//!
//! Invariants:
//! - `ja` and `en` have the same keys (checked by `missingKeys()`, which the browser test calls).
//! - The language comes from localStorage `ra.lang` when set, else from `navigator.language`
//!   ("ja…" → Japanese, anything else → English).
//! - Static markup carries `data-i18n="key"` (text), `data-i18n-aria-label`, `data-i18n-placeholder`
//!   or `data-i18n-title`; `applyI18n()` fills them. Texts built by scripts call `t()` and re-render
//!   through `onLangChange()`.
//! - Texts are only ever put into the page with textContent or attributes, never as HTML.

/** @typedef {'ja' | 'en'} Lang */

/** localStorage key holding the chosen language. */
export const LANG_STORAGE_KEY = 'ra.lang';

/** The switcher's accessible name is the same in both languages so it can always be found. */
export const LANG_SWITCHER_LABEL = 'Language / 言語';

/** @type {Record<string, string>} */
const ja = {
  'app.name': 'リモートアシスト',
  'lang.ja': '日本語',
  'lang.en': 'English',

  'common.loading': '読み込み中…',
  'common.cancel': 'キャンセル',
  'common.save': '保存',
  'common.delete': '削除',
  'common.close': '閉じる',
  'common.yes': 'はい',
  'common.no': 'いいえ',
  'common.none': '—',
  'common.actions': '操作',
  'common.created_at': '作成日時',
  'common.confirm': '確認',
  'common.saved': '保存しました。',
  'common.empty': '項目はありません。',

  'nav.main': 'メインメニュー',
  'nav.home': 'ホーム',
  'nav.admin': '管理',
  'nav.history': 'ログイン履歴',
  'nav.recordings': '録画',
  'nav.password': 'パスワード変更',
  'nav.logout': 'ログアウト',
  'nav.signed_in_as': 'ログイン中: {name}',

  'role.system_admin': 'システム管理者',
  'role.group_admin': 'グループ管理者',
  'role.supporter': 'サポーター',

  'login.title': 'ログイン',
  'login.heading': 'リモートアシストにログイン',
  'login.login_id': 'ログインID',
  'login.password': 'パスワード',
  'login.submit': 'ログイン',
  'login.failed':
    'ログインIDまたはパスワードが違います。5回続けて失敗すると、アカウントは15分間ロックされます。',
  'login.working': 'ログインしています…',

  'password.title': 'パスワード変更',
  'password.heading': 'パスワードを変更',
  'password.forced':
    'このアカウントは初回ログインか、管理者によるパスワードのリセット後です。続けるには新しいパスワードを設定してください。',
  'password.current': '現在のパスワード',
  'password.new': '新しいパスワード',
  'password.confirm': '新しいパスワード（確認）',
  'password.submit': 'パスワードを変更',
  'password.policy_heading': 'パスワードの条件',
  'password.policy.length': '8文字以上、128文字以下',
  'password.policy.letter_digit': '英字と数字をそれぞれ1文字以上含む',
  'password.policy.not_login_id': 'ログインIDと同じにしない',
  'password.policy.not_common': 'よく使われるパスワードにしない',
  'password.mismatch': '新しいパスワードと確認用の入力が一致しません。',
  'password.changed': 'パスワードを変更しました。',

  'home.group': '所属グループ: {group}',
  'home.no_group': '所属グループはありません。',

  'console.title': 'ライブコンソール',
  'console.heading': 'ライブコンソール',
  'console.layout': 'レイアウト',
  'console.layout_1': '1画面',
  'console.layout_2': '2画面',
  'console.layout_4': '2×2',
  'console.mic_mute': 'マイクをミュート',
  'console.mic_unavailable': 'マイクを使用できません',
  'console.enable_sound': '音声を有効にする',
  'console.share': '共有ビュー',
  'console.recordings': '録画一覧',
  'console.recordings_label': '録画一覧（新しいタブで開きます）',
  'console.popup_blocked':
    '共有ビューのウィンドウを開けませんでした。このサイトのポップアップを許可してください。',
  'console.no_group': '所属グループがないため、表示できるカメラはありません。',
  'console.cameras': 'カメラ',
  'console.no_cameras': 'このグループにはまだカメラがありません。',
  'console.feeds': 'ライブ映像',
  'console.feeds_empty': '左の一覧からカメラに接続してください。',
  'console.conn.connecting': 'サーバーに接続しています…',
  'console.conn.reconnecting': 'サーバーとの接続が切れました。再接続しています…',
  'console.connect': '接続',
  'console.accept': '応答',
  'console.disconnect': '切断',
  'console.added': '{name} を表示しました。',
  'console.removed': '{name} の表示を終了しました。',
  'console.removed.offline': '{name} がオフラインになったため、表示を終了しました。',
  'console.removed.revoked': '{name} は管理者によって無効化されました。',
  'console.ringing': '{name} が呼び出しています。',
  'console.not_connected': 'サーバーに接続されていません。再接続を待ってからもう一度お試しください。',
  'console.media_failed': '映像の接続を開始できませんでした。ページを再読み込みしてください。',

  'camera.state.online': 'オンライン',
  'camera.state.offline': 'オフライン',
  'camera.state.in_session': '対応中',
  'camera.state.mine': '表示中',
  'camera.with': '{name}さんが対応中',
  'camera.with_you_elsewhere': 'あなたの別のウィンドウで対応中',
  'camera.calling': '呼び出し中',

  'tile.connecting': '接続中…',
  'tile.reconnecting': '再接続中…',
  'tile.fps': '{fps} fps',
  'tile.jitter': 'ジッター {ms} ms',
  'tile.mute': '自分の声をミュート',
  'tile.fullscreen': '全画面',
  'tile.snapshot': 'スナップショット',
  'tile.snapshot_saved': '{name} のスナップショットを保存しました（{width}×{height}）。',
  'tile.snapshot_failed': '{name} のスナップショットを保存できませんでした: {reason}',
  'tile.recording': '● 録画中',

  'quality.good': '良好',
  'quality.fair': 'やや不安定',
  'quality.poor': '不安定',
  'quality.unknown': '測定中…',
  'quality.rtt': '遅延 {ms} ms',
  'quality.loss': '損失 {percent}%',

  'share.title': '共有ビュー',
  'share.heading': 'ライブ映像',
  'share.waiting': 'コンソールからの映像を待っています…',
  'share.orphan': 'このビューはライブコンソールの「共有ビュー」から開いてください。',

  'history.title': 'ログイン履歴',
  'history.heading': 'あなたのログイン履歴',
  'history.empty': '履歴はまだありません。',

  'recordings.title': '録画一覧',
  'recordings.heading': '録画一覧',
  'recordings.retention':
    'あなたが対応したセッションのカメラ映像（カメラの音声とサポーターの声を含む）です。録画は録画日から{days}日後に自動的に削除されます（「削除予定日」を参照）。',
  'recordings.list': '録画',
  'recordings.empty': '録画はまだありません。カメラに接続すると、その映像が自動的に録画されます。',
  'recordings.col.started': '開始日時',
  'recordings.col.camera': 'カメラ',
  'recordings.col.duration': '長さ',
  'recordings.col.size': 'サイズ',
  'recordings.col.state': '状態',
  'recordings.col.expires': '削除予定日',
  'recordings.state.recording': '録画中',
  'recordings.state.complete': '完了',
  'recordings.state.failed': '失敗',
  'recordings.size_mb': '{mb} MB',
  'recordings.play': '再生',
  'recordings.download': 'MP4をダウンロード',
  'recordings.download_webm': 'WebMをダウンロード',
  'recordings.webm_note': 'VP8のカメラのためWebM形式で録画',
  'recordings.session': 'セッション {time}（カメラ {cameras} 台・スナップショット {snapshots} 枚）',
  'recordings.snapshots': 'スナップショット',
  'recordings.snapshot_label': '{name} のスナップショット（{time}）',
  'recordings.download_jpeg': 'JPEGをダウンロード',
  'recordings.snapshot_delete_confirm': '{name} のスナップショット（{time}）を削除しますか？元に戻せません。',
  'recordings.snapshot_deleted': '{name} のスナップショット（{time}）を削除しました。',
  'recordings.in_progress_hint': '録画が終わると再生とダウンロードができます。',
  'recordings.player': 'プレーヤー',
  'recordings.playing': '再生中: {name}（{time}）',
  'recordings.video_label': '{name} の録画（{time}）',
  'recordings.close_player': 'プレーヤーを閉じる',
  'recordings.play_failed':
    'このブラウザーでは録画を再生できませんでした。MP4をダウンロードして再生してください。',
  'recordings.delete_confirm':
    '{name} の録画（{time}）を削除しますか？削除すると元に戻せません。',
  'recordings.deleted': '{name} の録画（{time}）を削除しました。',

  'col.time': '日時',
  'col.action': '操作',
  'col.outcome': '結果',
  'col.ip': 'IPアドレス',
  'col.user_agent': 'ブラウザ',
  'col.actor': '実行者',
  'col.target': '対象',
  'col.detail': '詳細',
  'col.group': 'グループ',
  'col.name': '名前',
  'col.login_id': 'ログインID',
  'col.display_name': '表示名',
  'col.role': '役割',
  'col.locked': 'ロック',
  'col.must_change': 'パスワード変更待ち',
  'col.paired': 'ペアリング',
  'col.last_seen': '最終接続',
  'col.status': '状態',

  'outcome.success': '成功',
  'outcome.failure': '失敗',
  'outcome.denied': '拒否',

  'action.audit.export': '監査ログのエクスポート',
  'action.auth.lockout': 'アカウントのロック',
  'action.auth.login': 'ログイン',
  'action.auth.logout': 'ログアウト',
  'action.auth.password_change': 'パスワード変更',
  'action.auth.password_reset': 'パスワードのリセット',
  'action.device.create': 'カメラ端末の登録',
  'action.device.delete': 'カメラ端末の削除',
  'action.device.pair': 'カメラ端末のペアリング',
  'action.device.pairing_code': 'ペアリングコードの発行',
  'action.device.revoke': 'カメラ端末の無効化',
  'action.device.update': 'カメラ端末の変更',
  'action.group.create': 'グループの作成',
  'action.group.delete': 'グループの削除',
  'action.group.update': 'グループの変更',
  'action.group.sso_update': 'SSO設定の変更',
  'action.group.sso_delete': 'SSOの無効化',
  'action.group.sso_read': 'SSO設定の参照',
  'action.live.call_for_help': 'サポーターの呼び出し',
  'action.live.connect_camera': 'カメラへの接続',
  'action.live.disconnect_camera': 'カメラの切断',
  'action.recording.delete': '録画の削除',
  'action.recording.verify': '録画の完全性検証',
  'action.recording.expire': '保存期間満了による録画の削除',
  'action.deletions.export': '削除記録のエクスポート',
  'action.recording.download': '録画のダウンロード',
  'action.recording.view': '録画の再生',
  'action.recording.thumbnail': '録画のサムネイル登録',
  'action.snapshot.take': 'スナップショットの保存',
  'action.snapshot.download': 'スナップショットのダウンロード',
  'action.snapshot.delete': 'スナップショットの削除',
  'action.snapshot.expire': '保存期間満了によるスナップショットの削除',
  'action.keys.rewrap': 'データ鍵の再ラップ（マスター鍵の更新）',
  'action.backup.create': 'バックアップの作成',
  'action.backup.restore': 'バックアップからの復元',
  'action.auth.ip_refused': '許可されていないIPアドレスからのアクセスを拒否',
  'action.auth.mfa_challenge': 'パスワード確認済み(二要素認証待ち)',
  'action.auth.mfa_enable': '二要素認証の登録',
  'action.auth.mfa_disable': '二要素認証の無効化',
  'action.user.mfa_reset': '二要素認証のリセット',
  'col.mfa': '二要素認証',
  'groups.mfa': '二要素認証',
  'groups.mfa_label': '{name} のメンバーに二要素認証を必須にする',
  'groups.mfa_on': '必須',
  'groups.mfa_off': '任意',
  'groups.mfa_switched_on': '{name} では二要素認証が必須になりました。未登録のメンバーは次回ログイン時に登録します。',
  'groups.mfa_switched_off': '{name} では二要素認証が任意になりました。',
  'users.reset_mfa': '二要素認証をリセット',
  'users.reset_mfa_confirm': '{name} の二要素認証をリセットしますか? ログイン中のセッションは終了します。',
  'users.mfa_reset_done': '{name} の二要素認証をリセットしました。',
  'mfa.heading': '二要素認証',
  'mfa.verify_intro': '認証アプリに表示されている6桁のコード、またはリカバリーコードを入力してください。',
  'mfa.code': 'コード',
  'mfa.verify': '確認',
  'mfa.enroll_intro': '認証アプリ(Google Authenticator、Microsoft Authenticator など)でこのQRコードを読み取り、表示された6桁のコードを入力してください。',
  'mfa.qr_alt': '認証アプリに登録するQRコード',
  'mfa.secret': '手入力用のキー:',
  'mfa.enable': '有効にする',
  'mfa.recovery_intro': '二要素認証を有効にしました。次のリカバリーコードを安全な場所に保管してください。スマートフォンをなくしたとき、コードの代わりに各1回使えます。表示されるのは今だけです。',
  'mfa.continue': '保管しました。続ける',
  'mfa.password': '確認のためのパスワード',
  'mfa.setup': '設定する',
  'mfa.disable': '無効にする',
  'mfa.state_on': '二要素認証は有効です。',
  'mfa.state_off': '二要素認証は設定されていません。',
  'mfa.disabled': '二要素認証を無効にしました。',
  'error.mfa_code_invalid': 'コードが正しくないか、使用済みか、期限切れです。',
  'error.mfa_required_by_group': '所属グループでは二要素認証が必須のため、無効にできません。',
  'action.recording.start': '録画の開始',
  'action.recording.stop': '録画の終了',
  'action.user.create': 'ユーザーの作成',
  'action.user.delete': 'ユーザーの削除',
  'action.user.unlock': 'ロック解除',
  'action.user.update': 'ユーザーの変更',

  'admin.title': '管理',
  'admin.heading': '管理',
  'admin.tabs': '管理メニュー',
  'admin.your_group': 'あなたのグループ: {group}',
  'tab.groups': 'グループ',
  'tab.users': 'ユーザー',
  'tab.devices': 'カメラ端末',
  'tab.audit': '監査ログ',

  'groups.heading': 'グループ',
  'groups.create_heading': '新しいグループ',
  'groups.name': 'グループ名',
  'groups.create': 'グループを作成',
  'groups.created': 'グループ「{name}」を作成しました。',
  'groups.rename': '名前を変更',
  'groups.recording': '録画',
  'groups.recording_label': '{name} のセッションを録画する',
  'groups.recording_on': '録画する',
  'groups.recording_off': '録画しない',
  'groups.recording_switched_on': '{name} のセッションを録画するようにしました。',
  'groups.recording_switched_off': '{name} のセッションを録画しないようにしました。',
  'groups.rename_heading': 'グループ名を変更',
  'groups.delete_confirm': 'グループ「{name}」を削除しますか？',
  'groups.deleted': 'グループ「{name}」を削除しました。',
  'groups.list': 'グループ一覧',

  'users.heading': 'ユーザー',
  'users.create_heading': '新しいユーザー',
  'users.login_id': 'ログインID',
  'users.display_name': '表示名',
  'users.role': '役割',
  'users.group': 'グループ',
  'users.login_id_hint': '3〜64文字の英数字と「.」「_」「@」「-」',
  'users.initial_password': '初期パスワード',
  'users.initial_password_hint': '初回ログイン時に本人が変更します。',
  'users.create': 'ユーザーを作成',
  'users.created': 'ユーザー「{name}」を作成しました。',
  'users.edit': '編集',
  'users.edit_heading': 'ユーザーを編集',
  'users.reset_password': 'パスワードをリセット',
  'users.reset_heading': '{name} のパスワードをリセット',
  'users.reset_new_password': '新しいパスワード',
  'users.reset_submit': 'リセット',
  'users.reset_done': 'パスワードをリセットしました。次回ログイン時に変更が求められます。',
  'users.unlock': 'ロック解除',
  'users.unlocked': 'ロックを解除しました。',
  'users.delete_confirm': 'ユーザー「{name}」を削除しますか？',
  'users.deleted': 'ユーザー「{name}」を削除しました。',
  'users.list': 'ユーザー一覧',

  'devices.heading': 'カメラ端末',
  'devices.create_heading': '新しいカメラ端末',
  'devices.name': '端末名',
  'devices.group': 'グループ',
  'devices.create': '端末を登録',
  'devices.rename': '名前を変更',
  'devices.rename_heading': '端末名を変更',
  'devices.new_pairing': '新しいペアリングコード',
  'devices.revoke': '無効化',
  'devices.revoke_confirm': '端末「{name}」を無効化しますか？この端末はすぐに接続できなくなります。',
  'devices.revoked': '端末「{name}」を無効化しました。',
  'devices.delete_confirm': '端末「{name}」を削除しますか？',
  'devices.deleted': '端末「{name}」を削除しました。',
  'devices.status.revoked': '無効化済み',
  'devices.status.paired': 'ペアリング済み',
  'devices.status.unpaired': '未ペアリング',
  'devices.list': 'カメラ端末一覧',
  'pairing.heading': '「{name}」のペアリング',
  'pairing.instructions':
    'カメラとして使うスマートフォンでこのQRコードを読み取るか、URLを開いてください。コードは1回だけ使えます。',
  'pairing.code': 'ペアリングコード',
  'pairing.qr_alt': 'ペアリング用QRコード',
  'pairing.url': 'URL',
  'pairing.expires': '有効期限',

  'audit.heading': '監査ログ',
  'audit.filters': '絞り込み',
  'audit.action': '操作',
  'audit.actor': '実行者',
  'audit.outcome': '結果',
  'audit.outcome_any': 'すべて',
  'audit.group': 'グループ',
  'audit.group_any': 'すべて',
  'audit.from': '開始日',
  'audit.to': '終了日',
  'audit.search': '検索',
  'audit.export': 'CSVエクスポート',
  'audit.load_more': 'さらに読み込む',
  'audit.empty': '該当するイベントはありません。',
  'audit.list': '監査イベント',

  'pair.title': 'カメラ端末のペアリング',
  'pair.heading': 'このスマートフォンをカメラとして登録',
  'pair.code': 'ペアリングコード',
  'pair.submit': 'ペアリング',
  'pair.working': 'ペアリングしています…',
  'pair.existing':
    'このスマートフォンは既にグループ「{group}」のカメラ「{name}」として登録されています。新しいコードでペアリングすると置き換わります。続けるには「ペアリング」を押してください。',
  'pair.done': 'このスマートフォンはグループ「{group}」のカメラ「{name}」になりました。',
  'pair.go_field': 'カメラ画面を開く',
  'pair.help': '管理者から渡されたQRコードを読み取るか、ペアリングコードを入力してください。',

  'field.title': 'カメラ',
  'field.heading': '現場カメラ',
  'field.not_paired':
    'このスマートフォンはまだカメラとして登録されていません。管理者から渡されたQRコードを読み取ってください。',
  'field.revoked':
    'このカメラ端末は無効化されたか、ペアリングが解除されました。管理者に新しいQRコードを依頼してください。',
  'field.forget': 'この端末の登録情報を削除',
  'field.forgotten': '登録情報を削除しました。',
  'field.device': 'カメラ: {name}',
  'field.group': 'グループ: {group}',
  'field.go_live': 'ライブ開始',
  'field.go_live_hint': '背面カメラとマイクを使用します。',
  'field.checking': '登録を確認しています…',
  'field.live_heading': 'ライブ配信',
  'field.preview': 'カメラのプレビュー',
  'field.on_air': '配信中',
  'field.watched_by': '{name}さんが見ています',
  'field.not_watched': 'まだ誰も見ていません',
  'field.supporter_muted': 'サポーターの音声はオフになっています',
  'field.status.starting': 'カメラを起動しています…',
  'field.status.connecting': 'サーバーに接続しています…',
  'field.status.media_connecting': '映像の接続を準備しています…',
  'field.status.live': 'ライブ中',
  'field.status.standby': '接続済み・サポーターを待っています',
  'field.status.reconnecting': '再接続しています…',
  'field.calling': 'サポーターを呼び出しています…',
  'field.quality': '接続品質: {quality}',
  'field.call': 'サポーターを呼ぶ',
  'field.calling_cancel': '呼び出しを取り消す',
  'field.mute': 'マイクをミュート',
  'field.switch_camera': 'カメラを切り替え',
  'field.torch': 'ライト',
  'field.enable_sound': 'タップしてサポーターの声を聞く',
  'field.stop': '終了',
  'field.permission_denied':
    'カメラとマイクの使用が許可されていません。ブラウザの設定で許可してから、もう一度「ライブ開始」を押してください。',
  'field.camera_failed': 'カメラまたはマイクを起動できませんでした。他のアプリが使用していないか確認してください。',
  'field.media_failed': '映像の接続に失敗しました。自動的にやり直します。',

  'error.generic': 'エラーが発生しました。',
  'error.network': 'サーバーに接続できません。ネットワークを確認してください。',
  'error.internal': 'サーバー内部でエラーが発生しました。',
  'error.login_failed':
    'ログインIDまたはパスワードが違います。5回続けて失敗すると、アカウントは15分間ロックされます。',
  'error.not_authenticated': 'ログインしてください。',
  'error.password_change_required': '続けるにはパスワードを変更してください。',
  'error.csrf_rejected': 'セキュリティ確認に失敗しました。ページを再読み込みしてください。',
  'error.forbidden': 'この操作を行う権限がありません。',
  'error.not_found': '対象が見つかりません。',
  'error.name_taken': 'その名前はすでに使われています。',
  'error.login_id_taken': 'そのログインIDはすでに使われています。',
  'error.group_not_empty': 'このグループにはユーザーまたは端末が残っているため削除できません。',
  'error.cannot_delete_self': '自分自身は削除できません。',
  'error.current_password_wrong': '現在のパスワードが違います。',
  'error.password_policy': '新しいパスワードが条件を満たしていません。',
  'error.password_too_short': 'パスワードは8文字以上にしてください。',
  'error.password_too_long': 'パスワードは128文字以下にしてください。',
  'error.password_needs_letter_and_digit': 'パスワードには英字と数字をそれぞれ1文字以上含めてください。',
  'error.password_equals_login_id': 'ログインIDと同じパスワードは使えません。',
  'error.password_too_common': 'よく使われるパスワードは使えません。',
  'error.pairing_code_invalid':
    'ペアリングコードが無効です（期限切れ、使用済み、または入力ミス）。管理者に新しいQRコードを依頼してください。',
  'error.device_credential_invalid': 'このカメラ端末は無効化されたか、ペアリングが解除されました。',
  'error.validation': '入力内容を確認してください。',
  'error.camera_limit': 'カメラの上限数に達しています。',
  'error.device_revoked': 'この端末は無効化されています。',
  'error.unavailable': 'サーバーが一時的に利用できません。しばらくしてからもう一度お試しください。',
  'error.recording_in_progress': '録画中です。録画の終了後にもう一度お試しください。',
  'error.damaged': '保存されたファイルが破損しているため（完全性の検証に失敗）、提供できません。管理者に連絡してください。',
  'error.store_unavailable': 'ストレージに接続できません。しばらくしてからもう一度お試しください。',
  'error.not_in_session': 'このカメラはあなたのライブセッションに接続されていません。',
  'error.already_exists': '既に存在します。',
  'error.invalid_input': '要求の内容が正しくありません。',
  'error.rate_limited': 'リクエストが多すぎます。少し待ってからもう一度お試しください。',
  'error.ip_not_allowed': 'このネットワークからのアクセスは許可されていません。管理者に連絡してください。',
  'error.sso_required':
    '所属グループはシングルサインオン（SSO）でログインします。下の「SSOでログイン」を使ってください。',
  'error.sso_failed':
    'シングルサインオンを完了できませんでした（中止・期限切れ・検証失敗、または許可されていないアカウント）。もう一度お試しいただくか、管理者に連絡してください。',
  'sso.login_intro': '所属グループがシングルサインオン（SSO）を使う場合は、グループ名を入力してください。',
  'sso.group': 'グループ名',
  'sso.login': 'SSOでログイン',
  'sso.settings': 'SSO設定',
  'sso.heading': '{name} のシングルサインオン（OpenID Connect）',
  'sso.intro': 'IDプロバイダーにこのリダイレクトURIを登録してください: {uri}',
  'sso.enabled': 'SSOを使う',
  'sso.issuer': 'Issuer URL（https://）',
  'sso.client_id': 'クライアントID',
  'sso.client_secret': 'クライアントシークレット',
  'sso.client_secret_keep': 'クライアントシークレット（空欄なら現在の値のまま）',
  'sso.user_claim': 'ユーザーを照合するクレーム',
  'sso.claim_email': 'email（確認済みのもののみ）',
  'sso.claim_preferred_username': 'preferred_username',
  'sso.claim_sub': 'sub',
  'sso.provision': '未登録のユーザーをサポーターとして作成',
  'sso.password_login_disabled': 'パスワードでのログインを無効にする（システム管理者を除く）',
  'sso.saved': '{name} のSSO設定を保存しました。',
  'sso.removed': '{name} のSSOを無効にしました。',
};

/** @type {Record<string, string>} */
const en = {
  'app.name': 'Remote Assist',
  'lang.ja': '日本語',
  'lang.en': 'English',

  'common.loading': 'Loading…',
  'common.cancel': 'Cancel',
  'common.save': 'Save',
  'common.delete': 'Delete',
  'common.close': 'Close',
  'common.yes': 'Yes',
  'common.no': 'No',
  'common.none': '—',
  'common.actions': 'Actions',
  'common.created_at': 'Created',
  'common.confirm': 'Confirm',
  'common.saved': 'Saved.',
  'common.empty': 'Nothing here yet.',

  'nav.main': 'Main menu',
  'nav.home': 'Home',
  'nav.admin': 'Admin',
  'nav.history': 'Login history',
  'nav.recordings': 'Recordings',
  'nav.password': 'Change password',
  'nav.logout': 'Log out',
  'nav.signed_in_as': 'Signed in as {name}',

  'role.system_admin': 'System administrator',
  'role.group_admin': 'Group administrator',
  'role.supporter': 'Supporter',

  'login.title': 'Log in',
  'login.heading': 'Log in to Remote Assist',
  'login.login_id': 'Login ID',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.failed':
    'Wrong login ID or password. After 5 failures in a row the account is locked for 15 minutes.',
  'login.working': 'Logging in…',

  'password.title': 'Change password',
  'password.heading': 'Change your password',
  'password.forced':
    'This is your first login or an administrator reset your password. Set a new password to continue.',
  'password.current': 'Current password',
  'password.new': 'New password',
  'password.confirm': 'Confirm new password',
  'password.submit': 'Change password',
  'password.policy_heading': 'Password rules',
  'password.policy.length': '8 to 128 characters',
  'password.policy.letter_digit': 'at least one letter and one digit',
  'password.policy.not_login_id': 'not the same as your login ID',
  'password.policy.not_common': 'not a common password',
  'password.mismatch': 'The new password and its confirmation differ.',
  'password.changed': 'Your password was changed.',

  'home.group': 'Group: {group}',
  'home.no_group': 'You are not in a group.',

  'console.title': 'Live console',
  'console.heading': 'Live console',
  'console.layout': 'Layout',
  'console.layout_1': 'Single',
  'console.layout_2': 'Side by side',
  'console.layout_4': '2×2',
  'console.mic_mute': 'Mute microphone',
  'console.mic_unavailable': 'No microphone',
  'console.enable_sound': 'Turn on sound',
  'console.share': 'Share view',
  'console.recordings': 'My recordings',
  'console.recordings_label': 'My recordings (opens in a new tab)',
  'console.popup_blocked': 'The share view window could not be opened. Allow pop-ups for this site.',
  'console.no_group': 'You are not in a group, so there are no cameras to show.',
  'console.cameras': 'Cameras',
  'console.no_cameras': 'Your group has no cameras yet.',
  'console.feeds': 'Live video',
  'console.feeds_empty': 'Connect a camera from the list.',
  'console.conn.connecting': 'Connecting to the server…',
  'console.conn.reconnecting': 'The connection to the server was lost. Reconnecting…',
  'console.connect': 'Connect',
  'console.accept': 'Accept',
  'console.disconnect': 'Disconnect',
  'console.added': '{name} is on screen.',
  'console.removed': '{name} left the screen.',
  'console.removed.offline': '{name} went offline and was removed from the screen.',
  'console.removed.revoked': '{name} was revoked by an administrator.',
  'console.ringing': '{name} is calling for help.',
  'console.not_connected': 'Not connected to the server. Wait for the reconnection and try again.',
  'console.media_failed': 'The video connection could not be started. Reload the page.',

  'camera.state.online': 'online',
  'camera.state.offline': 'offline',
  'camera.state.in_session': 'in session',
  'camera.state.mine': 'on screen',
  'camera.with': 'with {name}',
  'camera.with_you_elsewhere': 'in another window of yours',
  'camera.calling': 'Calling for help',

  'tile.connecting': 'Connecting…',
  'tile.reconnecting': 'Reconnecting…',
  'tile.fps': '{fps} fps',
  'tile.jitter': 'jitter {ms} ms',
  'tile.mute': 'Mute my voice',
  'tile.fullscreen': 'Full screen',
  'tile.snapshot': 'Snapshot',
  'tile.snapshot_saved': 'Snapshot of {name} saved ({width}×{height}).',
  'tile.snapshot_failed': 'The snapshot of {name} could not be saved: {reason}',
  'tile.recording': '● REC',

  'quality.good': 'good',
  'quality.fair': 'fair',
  'quality.poor': 'poor',
  'quality.unknown': 'measuring…',
  'quality.rtt': 'delay {ms} ms',
  'quality.loss': 'loss {percent}%',

  'share.title': 'Share view',
  'share.heading': 'Live cameras',
  'share.waiting': 'Waiting for video from the console…',
  'share.orphan': 'Open this view with “Share view” in the live console.',

  'history.title': 'Login history',
  'history.heading': 'Your login history',
  'history.empty': 'No events yet.',

  'recordings.title': 'My recordings',
  'recordings.heading': 'My recordings',
  'recordings.retention':
    "The cameras of the sessions you took part in (with the camera's sound and the supporter's voice). Recordings are deleted automatically {days} days after they were recorded (see “Expires on”).",
  'recordings.list': 'Recordings',
  'recordings.empty': 'No recordings yet. Connecting to a camera records it automatically.',
  'recordings.col.started': 'Started',
  'recordings.col.camera': 'Camera',
  'recordings.col.duration': 'Duration',
  'recordings.col.size': 'Size',
  'recordings.col.state': 'State',
  'recordings.col.expires': 'Expires on',
  'recordings.state.recording': 'Recording…',
  'recordings.state.complete': 'Complete',
  'recordings.state.failed': 'Failed',
  'recordings.size_mb': '{mb} MB',
  'recordings.play': 'Play',
  'recordings.download': 'Download MP4',
  'recordings.download_webm': 'Download WebM',
  'recordings.webm_note': 'VP8 camera: recorded as WebM',
  'recordings.session': 'Session {time} ({cameras} cameras, {snapshots} snapshots)',
  'recordings.snapshots': 'Snapshots',
  'recordings.snapshot_label': 'Snapshot of {name} ({time})',
  'recordings.download_jpeg': 'Download JPEG',
  'recordings.snapshot_delete_confirm': 'Delete the snapshot of {name} ({time})? This cannot be undone.',
  'recordings.snapshot_deleted': 'The snapshot of {name} ({time}) was deleted.',
  'recordings.in_progress_hint': 'Play and download become available when the recording ends.',
  'recordings.player': 'Player',
  'recordings.playing': 'Playing: {name} ({time})',
  'recordings.video_label': 'Recording of {name} ({time})',
  'recordings.close_player': 'Close the player',
  'recordings.play_failed': 'This browser could not play the recording. Download the MP4 and play it instead.',
  'recordings.delete_confirm': 'Delete the recording of {name} ({time})? This cannot be undone.',
  'recordings.deleted': 'The recording of {name} ({time}) was deleted.',

  'col.time': 'Time',
  'col.action': 'Action',
  'col.outcome': 'Outcome',
  'col.ip': 'IP address',
  'col.user_agent': 'Browser',
  'col.actor': 'Actor',
  'col.target': 'Target',
  'col.detail': 'Detail',
  'col.group': 'Group',
  'col.name': 'Name',
  'col.login_id': 'Login ID',
  'col.display_name': 'Display name',
  'col.role': 'Role',
  'col.locked': 'Locked',
  'col.must_change': 'Must change password',
  'col.paired': 'Paired',
  'col.last_seen': 'Last seen',
  'col.status': 'Status',

  'outcome.success': 'success',
  'outcome.failure': 'failure',
  'outcome.denied': 'denied',

  'action.audit.export': 'audit log export',
  'action.auth.lockout': 'account locked',
  'action.auth.login': 'login',
  'action.auth.logout': 'logout',
  'action.auth.password_change': 'password change',
  'action.auth.password_reset': 'password reset',
  'action.device.create': 'device registered',
  'action.device.delete': 'device deleted',
  'action.device.pair': 'device paired',
  'action.device.pairing_code': 'pairing code issued',
  'action.device.revoke': 'device revoked',
  'action.device.update': 'device changed',
  'action.group.create': 'group created',
  'action.group.delete': 'group deleted',
  'action.group.update': 'group changed',
  'action.group.sso_update': 'SSO settings changed',
  'action.group.sso_delete': 'SSO turned off',
  'action.group.sso_read': 'SSO settings read',
  'action.live.call_for_help': 'call for help',
  'action.live.connect_camera': 'camera connected',
  'action.live.disconnect_camera': 'camera disconnected',
  'action.recording.delete': 'recording deleted',
  'action.recording.verify': 'recording integrity checked',
  'action.recording.expire': 'recording deleted at the end of retention',
  'action.deletions.export': 'deletion records exported',
  'action.recording.download': 'recording downloaded',
  'action.recording.view': 'recording played',
  'action.recording.thumbnail': 'recording thumbnail saved',
  'action.snapshot.take': 'snapshot saved',
  'action.snapshot.download': 'snapshot downloaded',
  'action.snapshot.delete': 'snapshot deleted',
  'action.snapshot.expire': 'snapshot deleted at the end of retention',
  'action.keys.rewrap': 'data keys re-wrapped (master key rotation)',
  'action.backup.create': 'backup created',
  'action.backup.restore': 'restored from a backup',
  'action.auth.ip_refused': 'refused: address not allowed',
  'action.auth.mfa_challenge': 'password accepted (second factor next)',
  'action.auth.mfa_enable': 'two-factor authentication enrolled',
  'action.auth.mfa_disable': 'two-factor authentication turned off',
  'action.user.mfa_reset': 'two-factor authentication reset',
  'col.mfa': '2FA',
  'groups.mfa': 'Two-factor authentication',
  'groups.mfa_label': 'Require two-factor authentication of the members of {name}',
  'groups.mfa_on': 'Required',
  'groups.mfa_off': 'Optional',
  'groups.mfa_switched_on': 'Members of {name} must now use two-factor authentication; those without it enrol at their next login.',
  'groups.mfa_switched_off': 'Two-factor authentication is now optional in {name}.',
  'users.reset_mfa': 'Reset 2FA',
  'users.reset_mfa_confirm': 'Reset the two-factor authentication of {name}? Their sessions end.',
  'users.mfa_reset_done': 'The two-factor authentication of {name} was reset.',
  'mfa.heading': 'Two-factor authentication',
  'mfa.verify_intro': 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.',
  'mfa.code': 'Code',
  'mfa.verify': 'Verify',
  'mfa.enroll_intro': 'Scan this QR code with an authenticator app (Google Authenticator, Microsoft Authenticator, …), then enter the 6-digit code it shows.',
  'mfa.qr_alt': 'QR code to add to your authenticator app',
  'mfa.secret': 'Key for manual entry:',
  'mfa.enable': 'Turn on',
  'mfa.recovery_intro': 'Two-factor authentication is on. Keep these recovery codes somewhere safe: each works once instead of a code if you lose your phone. They are shown only now.',
  'mfa.continue': 'I have kept them. Continue',
  'mfa.password': 'Your password, to confirm',
  'mfa.setup': 'Set up',
  'mfa.disable': 'Turn off',
  'mfa.state_on': 'Two-factor authentication is on.',
  'mfa.state_off': 'Two-factor authentication is not set up.',
  'mfa.disabled': 'Two-factor authentication was turned off.',
  'error.mfa_code_invalid': 'The code is wrong, already used or expired.',
  'error.mfa_required_by_group': 'Your group requires two-factor authentication, so it cannot be turned off.',
  'action.recording.start': 'recording started',
  'action.recording.stop': 'recording stopped',
  'action.user.create': 'user created',
  'action.user.delete': 'user deleted',
  'action.user.unlock': 'user unlocked',
  'action.user.update': 'user changed',

  'admin.title': 'Admin',
  'admin.heading': 'Administration',
  'admin.tabs': 'Administration sections',
  'admin.your_group': 'Your group: {group}',
  'tab.groups': 'Groups',
  'tab.users': 'Users',
  'tab.devices': 'Devices',
  'tab.audit': 'Audit log',

  'groups.heading': 'Groups',
  'groups.create_heading': 'New group',
  'groups.name': 'Group name',
  'groups.create': 'Create group',
  'groups.created': 'Group “{name}” created.',
  'groups.rename': 'Rename',
  'groups.recording': 'Recording',
  'groups.recording_label': 'Record the sessions of {name}',
  'groups.recording_on': 'Recorded',
  'groups.recording_off': 'Not recorded',
  'groups.recording_switched_on': 'Sessions of {name} are recorded from now on.',
  'groups.recording_switched_off': 'Sessions of {name} are no longer recorded.',
  'groups.rename_heading': 'Rename group',
  'groups.delete_confirm': 'Delete group “{name}”?',
  'groups.deleted': 'Group “{name}” deleted.',
  'groups.list': 'Groups',

  'users.heading': 'Users',
  'users.create_heading': 'New user',
  'users.login_id': 'Login ID',
  'users.display_name': 'Display name',
  'users.role': 'Role',
  'users.group': 'Group',
  'users.login_id_hint': '3–64 characters: letters, digits, “.”, “_”, “@” or “-”.',
  'users.initial_password': 'Initial password',
  'users.initial_password_hint': 'The user changes it at the first login.',
  'users.create': 'Create user',
  'users.created': 'User “{name}” created.',
  'users.edit': 'Edit',
  'users.edit_heading': 'Edit user',
  'users.reset_password': 'Reset password',
  'users.reset_heading': 'Reset the password of {name}',
  'users.reset_new_password': 'New password',
  'users.reset_submit': 'Reset',
  'users.reset_done': 'Password reset. The user must change it at the next login.',
  'users.unlock': 'Unlock',
  'users.unlocked': 'Account unlocked.',
  'users.delete_confirm': 'Delete user “{name}”?',
  'users.deleted': 'User “{name}” deleted.',
  'users.list': 'Users',

  'devices.heading': 'Camera devices',
  'devices.create_heading': 'New camera device',
  'devices.name': 'Device name',
  'devices.group': 'Group',
  'devices.create': 'Register device',
  'devices.rename': 'Rename',
  'devices.rename_heading': 'Rename device',
  'devices.new_pairing': 'New pairing code',
  'devices.revoke': 'Revoke',
  'devices.revoke_confirm': 'Revoke device “{name}”? It is refused at once.',
  'devices.revoked': 'Device “{name}” revoked.',
  'devices.delete_confirm': 'Delete device “{name}”?',
  'devices.deleted': 'Device “{name}” deleted.',
  'devices.status.revoked': 'revoked',
  'devices.status.paired': 'paired',
  'devices.status.unpaired': 'not paired',
  'devices.list': 'Camera devices',
  'pairing.heading': 'Pairing “{name}”',
  'pairing.instructions':
    'Scan this QR code with the phone that will be the camera, or open the URL on it. The code works once.',
  'pairing.code': 'Pairing code',
  'pairing.qr_alt': 'Pairing QR code',
  'pairing.url': 'URL',
  'pairing.expires': 'Expires',

  'audit.heading': 'Audit log',
  'audit.filters': 'Filters',
  'audit.action': 'Action',
  'audit.actor': 'Actor',
  'audit.outcome': 'Outcome',
  'audit.outcome_any': 'any',
  'audit.group': 'Group',
  'audit.group_any': 'any',
  'audit.from': 'From',
  'audit.to': 'To',
  'audit.search': 'Search',
  'audit.export': 'Export CSV',
  'audit.load_more': 'Load more',
  'audit.empty': 'No matching events.',
  'audit.list': 'Audit events',

  'pair.title': 'Pair a camera',
  'pair.heading': 'Make this phone a camera',
  'pair.code': 'Pairing code',
  'pair.submit': 'Pair',
  'pair.working': 'Pairing…',
  'pair.existing':
    'This phone is already the camera “{name}” of group {group}. Pairing with the new code replaces that. Press Pair to continue.',
  'pair.done': 'This phone is now the camera “{name}” of group {group}.',
  'pair.go_field': 'Open the camera page',
  'pair.help': 'Scan the QR code from your administrator, or type the pairing code.',

  'field.title': 'Camera',
  'field.heading': 'Field camera',
  'field.not_paired':
    'This phone is not a camera yet. Scan the QR code from your administrator.',
  'field.revoked':
    'This camera was revoked or unpaired. Ask your administrator for a new QR code.',
  'field.forget': 'Forget this device',
  'field.forgotten': 'The device registration was removed from this phone.',
  'field.device': 'Camera: {name}',
  'field.group': 'Group: {group}',
  'field.go_live': 'Go live',
  'field.go_live_hint': 'Uses the rear camera and the microphone.',
  'field.checking': 'Checking the registration…',
  'field.live_heading': 'Live',
  'field.preview': 'Camera preview',
  'field.on_air': 'LIVE',
  'field.watched_by': '{name} is watching',
  'field.not_watched': 'No one is watching yet',
  'field.supporter_muted': "The supporter's voice is off",
  'field.status.starting': 'Starting the camera…',
  'field.status.connecting': 'Connecting to the server…',
  'field.status.media_connecting': 'Preparing the video connection…',
  'field.status.live': 'Live',
  'field.status.standby': 'Connected, waiting for a supporter',
  'field.status.reconnecting': 'Reconnecting…',
  'field.calling': 'Calling your supporters…',
  'field.quality': 'Connection: {quality}',
  'field.call': 'Call for help',
  'field.calling_cancel': 'Cancel the call',
  'field.mute': 'Mute microphone',
  'field.switch_camera': 'Switch camera',
  'field.torch': 'Light',
  'field.enable_sound': 'Tap to hear the supporter',
  'field.stop': 'Stop',
  'field.permission_denied':
    'The camera and microphone are not allowed. Allow them in the browser settings, then tap “Go live” again.',
  'field.camera_failed': 'The camera or microphone could not be started. Check that no other app is using it.',
  'field.media_failed': 'The video connection failed. Retrying automatically.',

  'error.generic': 'Something went wrong.',
  'error.network': 'Cannot reach the server. Check the network.',
  'error.internal': 'Internal server error.',
  'error.login_failed':
    'Wrong login ID or password. After 5 failures in a row the account is locked for 15 minutes.',
  'error.not_authenticated': 'Please log in.',
  'error.password_change_required': 'Change your password to continue.',
  'error.csrf_rejected': 'The security check failed. Reload the page.',
  'error.forbidden': 'You are not allowed to do this.',
  'error.not_found': 'Not found.',
  'error.name_taken': 'That name is already taken.',
  'error.login_id_taken': 'That login ID is already taken.',
  'error.group_not_empty': 'The group still has users or devices, so it cannot be deleted.',
  'error.cannot_delete_self': 'You cannot delete yourself.',
  'error.current_password_wrong': 'The current password is wrong.',
  'error.password_policy': 'The new password does not meet the rules.',
  'error.password_too_short': 'The password must have at least 8 characters.',
  'error.password_too_long': 'The password must have at most 128 characters.',
  'error.password_needs_letter_and_digit': 'The password needs at least one letter and one digit.',
  'error.password_equals_login_id': 'The password must not be your login ID.',
  'error.password_too_common': 'That password is too common.',
  'error.pairing_code_invalid':
    'The pairing code is not valid (expired, already used or mistyped). Ask your administrator for a new QR code.',
  'error.device_credential_invalid': 'This camera was revoked or unpaired.',
  'error.validation': 'Please check your input.',
  'error.camera_limit': 'The camera limit is reached.',
  'error.device_revoked': 'The device has been revoked.',
  'error.unavailable': 'The server is temporarily unavailable. Try again in a moment.',
  'error.recording_in_progress': 'The recording is still in progress; try again when it ends.',
  'error.damaged': 'The stored file is damaged (its integrity check failed), so it is not served. Tell your administrator.',
  'error.store_unavailable': 'The storage cannot be reached right now; try again in a minute.',
  'error.not_in_session': 'This camera is not in your live session.',
  'error.already_exists': 'It already exists.',
  'error.invalid_input': 'The request is invalid.',
  'error.rate_limited': 'Too many requests. Wait a moment and try again.',
  'error.ip_not_allowed': 'Access from this network is not allowed. Contact your administrator.',
  'error.sso_required': 'Your group signs in with single sign-on (SSO). Use "Sign in with SSO" below.',
  'error.sso_failed':
    'Single sign-on did not complete (cancelled, expired, not verified, or the account is not allowed). Try again, or contact your administrator.',
  'sso.login_intro': 'If your group signs in with single sign-on (SSO), enter its name.',
  'sso.group': 'Group name',
  'sso.login': 'Sign in with SSO',
  'sso.settings': 'SSO',
  'sso.heading': 'Single sign-on (OpenID Connect) of {name}',
  'sso.intro': 'Register this redirect URI at the identity provider: {uri}',
  'sso.enabled': 'Use SSO',
  'sso.issuer': 'Issuer URL (https://)',
  'sso.client_id': 'Client ID',
  'sso.client_secret': 'Client secret',
  'sso.client_secret_keep': 'Client secret (leave empty to keep the current one)',
  'sso.user_claim': 'Claim matched against login IDs',
  'sso.claim_email': 'email (verified addresses only)',
  'sso.claim_preferred_username': 'preferred_username',
  'sso.claim_sub': 'sub',
  'sso.provision': 'Create unknown users as supporters',
  'sso.password_login_disabled': 'Turn password login off (except system administrators)',
  'sso.saved': 'SSO settings of {name} saved.',
  'sso.removed': 'SSO of {name} turned off.',
};

/** @type {Record<Lang, Record<string, string>>} */
export const catalogues = { ja, en };

/** @type {Lang | null} */
let current = null;

/** @type {Array<(lang: Lang) => void>} */
const listeners = [];

/**
 * The language chosen by the user, else the browser's.
 * @returns {Lang}
 */
export function getLang() {
  if (current) return current;
  let stored = null;
  try {
    stored = localStorage.getItem(LANG_STORAGE_KEY);
  } catch (_) {
    // Storage may be disabled; fall back to the browser language.
  }
  if (stored === 'ja' || stored === 'en') {
    current = stored;
  } else {
    const nav = (navigator.language || '').toLowerCase();
    current = nav.startsWith('ja') ? 'ja' : 'en';
  }
  return current;
}

/**
 * Translate a key, replacing `{name}` placeholders from `params`. An unknown key is returned as is
 * so a missing text is visible rather than blank.
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function t(key, params) {
  const lang = getLang();
  let text = catalogues[lang][key];
  if (text === undefined) text = catalogues.en[key];
  if (text === undefined) return key;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (whole, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
    );
  }
  return text;
}

/**
 * Whether the catalogue has a text for this key.
 * @param {string} key
 */
export function hasText(key) {
  return Object.prototype.hasOwnProperty.call(catalogues.en, key);
}

/**
 * Fill every element below `root` that has a `data-i18n*` attribute.
 * @param {ParentNode} [root]
 */
export function applyI18n(root = document) {
  for (const el of Array.from(root.querySelectorAll('[data-i18n]'))) {
    el.textContent = t(el.getAttribute('data-i18n') || '');
  }
  for (const attr of ['aria-label', 'placeholder', 'title', 'alt']) {
    for (const el of Array.from(root.querySelectorAll(`[data-i18n-${attr}]`))) {
      el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`) || ''));
    }
  }
  if (root === document) document.documentElement.lang = getLang();
}

/**
 * Switch the language, remember it, re-apply static texts and tell the page's scripts.
 * @param {Lang} lang
 */
export function setLang(lang) {
  current = lang === 'ja' ? 'ja' : 'en';
  try {
    localStorage.setItem(LANG_STORAGE_KEY, current);
  } catch (_) {
    // Not remembered, but still applied to this page.
  }
  applyI18n(document);
  for (const fn of listeners) fn(current);
}

/**
 * Call `fn` after every language change (for texts built by scripts).
 * @param {(lang: Lang) => void} fn
 */
export function onLangChange(fn) {
  listeners.push(fn);
}

/**
 * A `<select>` that switches the language. Its accessible name is "Language / 言語" in both
 * languages.
 * @returns {HTMLSelectElement}
 */
export function createLangSwitcher() {
  const select = document.createElement('select');
  select.className = 'lang-switcher';
  select.setAttribute('aria-label', LANG_SWITCHER_LABEL);
  select.title = LANG_SWITCHER_LABEL;
  for (const lang of /** @type {Lang[]} */ (['ja', 'en'])) {
    const option = document.createElement('option');
    option.value = lang;
    // Each language is named in itself, so the texts do not change with the UI language.
    option.textContent = catalogues[lang][`lang.${lang}`];
    select.append(option);
  }
  select.value = getLang();
  select.addEventListener('change', () => setLang(/** @type {Lang} */ (select.value)));
  onLangChange((lang) => {
    select.value = lang;
  });
  return select;
}

/**
 * Keys present in one language but not the other (should be empty).
 * @returns {string[]}
 */
export function missingKeys() {
  const missing = [];
  for (const k of Object.keys(ja)) if (!(k in en)) missing.push(`en:${k}`);
  for (const k of Object.keys(en)) if (!(k in ja)) missing.push(`ja:${k}`);
  return missing;
}
