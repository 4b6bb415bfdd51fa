// Presigned URLs carry a signature (a bearer credential for one object) and the access key id:
// neither may reach a log line, an event or an error message. FFmpeg prints its input URL, so the
// worker passes every line through here.

const signed = /([?&](?:X-Amz-(?:Credential|Signature|Security-Token)|Signature|AWSAccessKeyId|x-amz-security-token)=)[^&\s'"]*/gi;

/** Replaces the secret query parameters of presigned URLs in a text with <redacted>. */
export function redactSecrets(text: string): string {
  return text.replace(signed, '$1<redacted>');
}

/** Replaces whole known URLs by what they stand for (e.g. a presigned URL by its s3:// location), then any leftover signature. */
export function redactor(known: ReadonlyMap<string, string>): (text: string) => string {
  return (text) => {
    let out = text;
    for (const [secret, shown] of known) if (out.includes(secret)) out = out.split(secret).join(shown);
    return redactSecrets(out);
  };
}
