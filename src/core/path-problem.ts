// Why a path the user chose cannot be used, from the file system's error code: their mistake to fix,
// said in words, where Node's own text would be `internal` with a system call in it.

const WHY: Readonly<Record<string, string>> = {
  EISDIR: 'is a directory',
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'exists and is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

/** The reason for a file-system error on a chosen path, or undefined for any other error. */
export function pathProblem(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && Object.hasOwn(WHY, code) ? WHY[code] : undefined;
}
