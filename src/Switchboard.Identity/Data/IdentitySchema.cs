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
    public static async Task EnsureAsync(IdentityDb db, CancellationToken cancellationToken)
    {
        if (db.Database.IsSqlite())
        {
            var source = new SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
            var folder = Path.GetDirectoryName(Path.GetFullPath(source));
            if (!string.IsNullOrEmpty(folder) && source != ":memory:")
            {
                Directory.CreateDirectory(folder);
            }
        }
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
                // Another node (or test server) created them meanwhile: look again.
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<bool> TablesExistAsync(IdentityDb db, CancellationToken cancellationToken)
    {
        try
        {
            _ = await db.TokenKeys.AsNoTracking().AnyAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DbException)
        {
            return false;
        }
    }
}
