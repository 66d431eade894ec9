using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Switchboard.Identity.Data;

/// <summary>
/// Brings the identity tables up to date on start with the provider's EF Core migrations
/// (<c>Data/Migrations/Sqlite</c>, <c>Data/Migrations/Postgres</c>).
/// </summary>
internal static class IdentitySchema
{
    // Servers in one process (tests) share a file: one at a time creates the tables.
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>Creates the SQLite file's folder; EF Core creates the file but not its folder.</summary>
    public static void CreateFolder(string connectionString)
    {
        var source = new SqliteConnectionStringBuilder(connectionString).DataSource;
        if (string.IsNullOrEmpty(source) || source == ":memory:" || source.StartsWith("file:", StringComparison.Ordinal))
        {
            return;
        }
        var folder = Path.GetDirectoryName(Path.GetFullPath(source));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
    }

    public static async Task EnsureAsync(IdentityDb db, CancellationToken cancellationToken)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureCoreAsync(db, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Gate.Release();
        }
    }

    // EF Core takes a migration lock in the database (a lock table in SQLite, a table lock in
    // PostgreSQL), so nodes starting together apply each migration once.
    private static Task EnsureCoreAsync(IdentityDb db, CancellationToken cancellationToken)
        => db.Database.MigrateAsync(cancellationToken);
}
