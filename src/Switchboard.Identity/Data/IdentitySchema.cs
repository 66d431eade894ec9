using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace Switchboard.Identity.Data;

/// <summary>
/// Creates the identity tables on first start. There are no migrations yet: the tables are created
/// from the model when they are missing (a later schema change will need the first migration).
/// Nodes starting together may race; the loser finds the tables made and carries on.
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

    private static async Task EnsureCoreAsync(IdentityDb db, CancellationToken cancellationToken)
    {
        var creator = db.GetService<IRelationalDatabaseCreator>();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (!await creator.ExistsAsync(cancellationToken).ConfigureAwait(false))
                {
                    await creator.CreateAsync(cancellationToken).ConfigureAwait(false);
                }
                if (await TablesExistAsync(db, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
                await creator.CreateTablesAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DbException) when (attempt < 3)
            {
                // Another node created them meanwhile: look again.
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    // Asks the catalog rather than querying the table, so a first start logs no failed command.
    private static async Task<bool> TablesExistAsync(IdentityDb db, CancellationToken cancellationToken)
    {
        var sql = db.Database.IsSqlite()
            ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'SwitchboardTokenKeys'"
            : "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'SwitchboardTokenKeys'";
        var connection = db.Database.GetDbConnection();
        var opened = connection.State != System.Data.ConnectionState.Open;
        if (opened)
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        try
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
                command.CommandText = sql;
                return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) > 0;
            }
        }
        finally
        {
            if (opened)
            {
                await connection.CloseAsync().ConfigureAwait(false);
            }
        }
    }
}
